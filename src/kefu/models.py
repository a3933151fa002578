"""Every domain's models, imported once so the metadata (and Alembic) sees all tables."""

from kefu.accounts import models as accounts_models
from kefu.admin import models as admin_models
from kefu.calendars import models as calendars_models
from kefu.canned import models as canned_models
from kefu.channels import models as channels_models
from kefu.channels.email import models as email_models
from kefu.channels.voice import models as voice_models
from kefu.channels.webchat import models as webchat_models
from kefu.customers import models as customers_models
from kefu.db import Base
from kefu.fields import models as fields_models
from kefu.notifications import models as notifications_models
from kefu.outbox import models as outbox_models
from kefu.routing import models as routing_models
from kefu.rules import models as rules_models
from kefu.sla import models as sla_models
from kefu.surveys import models as surveys_models
from kefu.tickets import models as tickets_models
from kefu.views import models as views_models
from kefu.webhooks import models as webhooks_models
from kefu.worker import models as worker_models

metadata = Base.metadata

__all__ = [
    "accounts_models",
    "admin_models",
    "calendars_models",
    "canned_models",
    "channels_models",
    "customers_models",
    "email_models",
    "fields_models",
    "metadata",
    "notifications_models",
    "outbox_models",
    "routing_models",
    "rules_models",
    "sla_models",
    "surveys_models",
    "tickets_models",
    "views_models",
    "voice_models",
    "webchat_models",
    "webhooks_models",
    "worker_models",
]
