from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kefu.kit.validators import check_language, check_time_zone


class GeneralSettings(BaseModel):
    """Organisation-wide settings; every field has a default so a fresh install works."""

    model_config = ConfigDict(extra="forbid")

    organisation_name: str = Field(default="kefu", min_length=1, max_length=100)
    default_language: str = "en"
    default_time_zone: str = "UTC"
    support_email: str = Field(default="", max_length=254)

    _lang = field_validator("default_language")(check_language)
    _tz = field_validator("default_time_zone")(check_time_zone)
