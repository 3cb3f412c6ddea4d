from __future__ import annotations

import unicodedata

from flightctl.services.common.emails import normalize_email


def test_one_spelling_whatever_the_input() -> None:
    assert normalize_email("  Ada.Lovelace@Example.COM\n") == "ada.lovelace@example.com"
    decomposed = unicodedata.normalize("NFD", "José@Exämple.org")
    assert normalize_email(decomposed) == normalize_email("josé@exämple.org") == "josé@exämple.org"
    assert normalize_email("") == ""


def test_every_service_uses_it() -> None:
    # user-manager validates and stores, data-collector stores interests, alert-system and
    # alert-notifier read events and look users up: each gives the same spelling.
    from flightctl.services.alert_notifier.settings import Settings as Notifier
    from flightctl.services.data_collector import service as collector
    from flightctl.services.user_manager import validation

    raw = " Grace.Hopper@Navy.MIL "
    expected = "grace.hopper@navy.mil"
    assert validation.email(raw) == collector.email(raw) == expected
    base = {"DATABASE_URL": "postgresql://h/db", "KAFKA_BOOTSTRAP_SERVERS": "h:1", "USER_MANAGER_GRPC_TARGET": "h:2"}
    assert Notifier.from_env({**base, "ADMIN_EMAIL": raw}).admin_email == expected
