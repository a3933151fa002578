"""Translations: both catalogues complete, no prose outside _() in templates, dates in the
reader's language and time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from babel.messages.catalog import Catalog

from kefu.web import catalogue
from kefu.web.i18n import Formatter, from_accept_language, translations


def test_catalogues_are_complete_and_templates_translate_everything() -> None:
    findings = catalogue.all_findings()
    assert findings == [], "\n".join(map(str, findings))


def test_the_checker_flags_prose_outside_the_translation_function() -> None:
    flagged = catalogue.literal_text(
        '<p>Hello</p><input placeholder="Search" title="{{ _(\'ok\') }}">'
        '<button aria-label="Close {{ x }}">×</button>'
    )
    assert flagged == ["Hello", "placeholder=Search", "aria-label=Close …"]


def test_the_checker_allows_code_keys_and_template_logic() -> None:
    clean = catalogue.literal_text(
        '<p>{{ _("Hello") }}</p><kbd>Ctrl</kbd>+<kbd>Enter</kbd><code>tickets:read</code>'
        '<div class="x {% if a %}open{% endif %}" data-x="{{ y }}">#{{ n }} · 12</div>'
        "{# a comment with words #}"
    )
    assert clean == []


def test_the_checker_flags_missing_and_fuzzy_messages() -> None:
    wanted = Catalog()
    wanted.add("A sentence nobody translated")
    wanted.add("Inbox")
    findings = catalogue.untranslated("zh_CN", wanted)
    assert [f.where for f in findings] == ["zh_CN: 'A sentence nobody translated'"]


def test_the_checker_flags_placeholders_that_differ() -> None:
    found = catalogue._placeholders("x", ("%(name)s is viewing",), ("正在查看",))
    assert found and "placeholders differ" in found[0].problem


def test_chinese_catalogue_translates_at_runtime() -> None:
    zh = translations("zh_CN")
    assert zh.gettext("Inbox") == "收件箱"
    assert (
        zh.ngettext("%(num)d ticket updated.", "%(num)d tickets updated.", 3) % {"num": 3}
        == "已更新 3 个工单。"
    )
    assert zh.pgettext("channel", "Email") == "邮件" and zh.gettext("Email") == "邮箱"
    assert translations("en").gettext("Inbox") == "Inbox"


def test_browser_language_picks_a_supported_one() -> None:
    assert from_accept_language("zh-TW,zh;q=0.9,en;q=0.8", "en") == "zh_CN"
    assert from_accept_language("fr-FR,en-US;q=0.7", "zh_CN") == "en"
    assert from_accept_language("fr-FR", "zh_CN") == "zh_CN"
    assert from_accept_language(None, "en") == "en"


def test_dates_follow_the_readers_zone_and_language() -> None:
    now = datetime(2026, 1, 5, 16, 30, tzinfo=UTC)  # 00:30 on the 6th in Shanghai
    english = Formatter("en", "America/New_York", now)
    chinese = Formatter("zh_CN", "Asia/Shanghai", now)
    moment = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
    assert english.short(moment) == "10:00\u202fAM" or english.short(moment) == "10:00 AM"
    assert chinese.short(moment) == "1月5日 23:00"  # yesterday in Shanghai
    assert chinese.midnight() == datetime(2026, 1, 5, 16, 0, tzinfo=UTC)
    assert english.ago(now - timedelta(minutes=12)) == "12m"
    assert chinese.ago(now - timedelta(hours=3)) == "3小时"
    assert chinese.date(moment) == "2026年1月5日"


def test_the_fast_formatter_says_what_babel_says() -> None:
    """Dates use compiled patterns and cached durations; they must match Babel exactly."""
    from babel.dates import format_date, format_datetime, format_timedelta

    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    for language in ("en", "zh_CN"):
        for zone in ("UTC", "Asia/Shanghai", "America/New_York"):
            fmt = Formatter(language, zone, now)
            for seconds in (0, 1, 44, 59, 3059, 3061, 5 * 86400 + 73000, 26 * 86400, 400 * 86400):
                for moment in (now - timedelta(seconds=seconds), now + timedelta(seconds=seconds)):
                    assert fmt.ago(moment) == format_timedelta(
                        now - moment, format="narrow", locale=language
                    )
                    assert fmt.ago_long(moment) == format_timedelta(
                        moment - now, format="long", add_direction=True, locale=language
                    )
                    assert fmt.datetime(moment) == format_datetime(
                        moment, "medium", tzinfo=fmt.tz, locale=language
                    )
                    assert fmt.date(moment) == format_date(
                        moment.astimezone(fmt.tz), "medium", locale=language
                    )
