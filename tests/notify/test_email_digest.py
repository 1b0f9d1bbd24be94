"""Email filters: matches accumulate; at most one digest a day, the first at once (ZTF-era
Lasair); a real SMTP server (aiosmtpd) receives them; a controllable clock moves the days."""

from __future__ import annotations

import email
import email.policy

import pytest
import sqlalchemy as sa
from notify_world import Clock, new_alerts, parts

from skysift.accounts import add_user
from skysift.filters.manage import add_filter, edit_filter
from skysift.ingest import ingest_files
from skysift.notify import Notifier
from skysift.store.database import open_store
from skysift.store.schema import email_pending, topic_stats

SQL = "SELECT objects.diaObjectId, objects.ra, objects.decl FROM objects WHERE objects.decl < 90"


@pytest.fixture
def world(make_settings, kafka_bootstrap, smtp_server, unique_name):
    host, port, inbox = smtp_server
    settings = make_settings(kafka=kafka_bootstrap, smtp_host=host, smtp_port=port,
                             smtp_security="none", email_from="broker@skysift.test",
                             public_url="https://skysift.example.org/", notify_interval_s=0)
    engine = open_store(settings.database_url)
    with engine.begin() as conn:
        user, _ = add_user(conn, unique_name("u"), email="ann@example.org")
    return settings, engine, user, inbox


def test_one_digest_a_day_with_every_match_since_the_last(world, tmp_path):
    settings, engine, user, inbox = world
    flt = add_filter(engine, settings, user, name="daily", sql=SQL, output="email",
                     trigger="alert")
    clock = Clock()
    notifier = Notifier(settings, engine, clock=clock)

    def night(name, n, first_id):
        ids = new_alerts(tmp_path / name, n, first_id)
        totals = ingest_files(settings, [tmp_path / name], progress=False, engine=engine)
        assert totals.ingested == n and totals.records_produced == 0  # nothing to Kafka
        return ids

    # day 1: the first matches are emailed at once
    day1 = night("d1a", 2, 9_000_000_001)
    report = notifier.run()
    assert report.digests == {"daily": 2}
    (msg,) = inbox.take()
    assert msg["To"] == "ann@example.org" and msg["From"] == "broker@skysift.test"
    assert "daily" in msg["Subject"]
    text, html, records = parts(msg)
    assert [r["diaObjectId"] for r in records] == day1
    assert all(list(r) == ["diaObjectId", "ra", "decl", "UTC"] for r in records)  # no light curve
    for oid in day1:
        url = f"https://skysift.example.org/objects/{oid}"
        assert url in text and f'href="{url}"' in html

    # later on day 1: more matches, no email (the 24-hour window)
    later = night("d1b", 1, 9_000_000_101)
    clock.advance(hours=3)
    assert notifier.run().digests == {} and inbox.take() == []
    later += night("d1c", 2, 9_000_000_201)
    clock.advance(hours=20)
    assert notifier.run().digests == {} and inbox.take() == []

    # day 2 (24 h after the first email): one email with every match since
    clock.advance(hours=1, minutes=1)
    assert notifier.run().digests == {"daily": 3}
    (msg,) = inbox.take()
    _, _, records = parts(msg)
    assert [r["diaObjectId"] for r in records] == later
    clock.advance(minutes=5)
    assert notifier.run().emails == 0 and inbox.take() == []  # nothing pending any more

    # day 3: no matches, no email
    clock.advance(days=1)
    assert notifier.run().emails == 0 and inbox.take() == []

    # day 4: a match, and more than 24 h since the last email: at once
    clock.advance(days=1)
    day4 = night("d4", 1, 9_000_000_301)
    assert notifier.run().digests == {"daily": 1}
    (msg,) = inbox.take()
    assert [r["diaObjectId"] for r in parts(msg)[2]] == day4
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(email_pending)).scalar() == 0
        st = conn.execute(sa.select(topic_stats).where(topic_stats.c.topic == flt.topic)).one()
    assert st.records_produced == 2 + 3 + 1 and st.bytes_produced > 0  # counted on its page


def test_email_filters_have_no_topic_and_a_replayed_batch_adds_nothing(world, tmp_path,
                                                                       kafka_bootstrap):
    from skysift.streams.kafka import admin
    from skysift.streams.topics import topic_exists

    settings, engine, user, _inbox = world
    flt = add_filter(engine, settings, user, name="mailme", sql=SQL, output="email",
                     trigger="alert")
    assert not topic_exists(admin(settings), flt.topic)
    new_alerts(tmp_path / "n", 3, 9_100_000_001)
    ingest_files(settings, [tmp_path / "n"], progress=False, engine=engine)
    ingest_files(settings, [tmp_path / "n"], progress=False, engine=engine)  # again (a replay)
    assert not topic_exists(admin(settings), flt.topic)
    assert Notifier(settings, engine).run().digests == {"mailme": 3}

    # changing the SQL drops what was waiting (it matched the old SQL); switching to Kafka
    # creates and seeds the topic
    new_alerts(tmp_path / "m", 2, 9_100_000_101)
    ingest_files(settings, [tmp_path / "m"], progress=False, engine=engine)
    flt = edit_filter(engine, settings, flt, sql=SQL + " AND objects.ra > -1")
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(email_pending)).scalar() == 0
    kafka = edit_filter(engine, settings, flt, output="plain")
    assert topic_exists(admin(settings), kafka.topic)
    back = edit_filter(engine, settings, kafka, output="email")
    assert not topic_exists(admin(settings), back.topic)


def test_without_smtp_emails_are_eml_files_in_the_maildir(make_settings, kafka_bootstrap,
                                                          tmp_path, unique_name):
    settings = make_settings(kafka=kafka_bootstrap)  # no smtp_host: the embedded default
    engine = open_store(settings.database_url)
    with engine.begin() as conn:
        user, _ = add_user(conn, unique_name("u"), email="bob@example.org")
    add_filter(engine, settings, user, name="eml", sql=SQL, output="email", trigger="alert")
    ids = new_alerts(tmp_path / "n", 2, 9_200_000_001)
    # ingest itself runs the email pass after the files: the first match goes out at once
    ingest_files(settings, [tmp_path / "n"], progress=False, engine=engine)
    files = sorted((settings.maildir / "new").glob("*.eml"))
    assert len(files) == 1 and settings.maildir == settings.data_dir / "maildir"
    msg = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert msg["To"] == "bob@example.org"
    assert [r["diaObjectId"] for r in parts(msg)[2]] == ids
    assert list((settings.maildir / "tmp").iterdir()) == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_login_works_and_the_password_is_never_shown(make_settings, caplog, unique_name,
                                                          tmp_path):
    """A real SMTP server with AUTH: skysift logs in; a wrong password fails without showing it."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult
    from notify_world import Inbox, free_port

    from skysift.notify.digest import new_message
    from skysift.notify.mail import EmailError, SmtpSender

    def check(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"skysift" and auth_data.password == b"s3cret-pw"
        # handled=False: a refusal is answered "535" (aiosmtpd's default for a failed
        # authenticator is no answer at all, which left the client waiting its whole timeout)
        return AuthResult(success=ok, handled=False)

    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=check,
                            auth_require_tls=False, auth_required=True)
    controller.start()
    try:
        good = make_settings(smtp_host="127.0.0.1", smtp_port=port, smtp_security="none",
                             smtp_user="skysift", smtp_password="s3cret-pw")
        SmtpSender(good).send(new_message(good, "ann@example.org", "hello"))
        assert len(inbox.messages) == 1
        assert "s3cret-pw" not in repr(good) and "s3cret-pw" not in str(good.redacted())
        bad = make_settings(smtp_host="127.0.0.1", smtp_port=port, smtp_security="none",
                            smtp_user="skysift", smtp_password="wrong-pw-123")
        with pytest.raises(EmailError) as err:
            SmtpSender(bad).send(new_message(bad, "ann@example.org", "hello"))
        assert "wrong-pw-123" not in str(err.value) and "skysift" in str(err.value)
        assert "SMTPAuthenticationError" in str(err.value) and "535" in str(err.value)
        assert "wrong-pw-123" not in repr(SmtpSender(bad))
    finally:
        controller.stop()


def _tls_server(tmp_path, *, implicit: bool):
    """A real SMTP server with a certificate from a throw-away CA, requiring TLS for AUTH:
    STARTTLS on a plain port, or TLS from the first byte (``implicit``)."""
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult
    from notify_world import Inbox, free_port, make_test_ca

    ca, cert, key = make_test_ca(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)

    def check(server, session, envelope, mechanism, auth_data):
        return AuthResult(
            success=auth_data.login == b"skysift" and auth_data.password == b"pw-tls-1",
            handled=False,  # a refusal is answered "535" (see above)
        )

    inbox, port = Inbox(), free_port()
    # aiosmtpd only counts STARTTLS for auth_require_tls: a connection that is TLS from the first
    # byte must say so (the handler still records session.ssl for every message)
    tls = ({"ssl_context": server_ctx, "auth_require_tls": False} if implicit
           else {"tls_context": server_ctx, "require_starttls": True})
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=check,
                            auth_required=True, server_hostname="localhost", **tls)
    return controller, inbox, port, ca


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_smtp_over_tls_verifies_the_server_and_logs_in(security, make_settings, tmp_path,
                                                       monkeypatch):
    """STARTTLS (port 587 style) and TLS from the start (465 style) against a real server whose
    certificate a throw-away CA signed: with the CA trusted (SSL_CERT_FILE, as an operator with a
    private CA would do) the login and the message go over TLS; without it, sending fails with a
    certificate error instead of falling back to plain text."""
    from skysift.notify.digest import new_message
    from skysift.notify.mail import EmailError, SmtpSender

    controller, inbox, port, ca = _tls_server(tmp_path, implicit=security == "ssl")
    controller.start()
    try:
        settings = make_settings(smtp_host="localhost", smtp_port=port, smtp_security=security,
                                 smtp_user="skysift", smtp_password="pw-tls-1")
        monkeypatch.delenv("SSL_CERT_DIR", raising=False)
        monkeypatch.setenv("SSL_CERT_FILE", str(ca))
        SmtpSender(settings).send(new_message(settings, "ann@example.org", "over TLS"))
        assert [m["Subject"] for m in inbox.messages] == ["over TLS"] and inbox.tls == [True]

        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-ca.pem"))
        with pytest.raises(EmailError,
                           match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            SmtpSender(settings).send(new_message(settings, "ann@example.org", "untrusted"))
        assert len(inbox.messages) == 1
    finally:
        controller.stop()


def test_workers_running_the_pass_at_once_send_each_digest_once(world, tmp_path, make_settings):
    """Several ingest workers run the email pass: four Notifiers start together (threads, one
    store, one SMTP server) over six email filters with waiting matches; every digest goes out
    exactly once. A pass whose send fails leaves the digest waiting (the day's window unused)."""
    import threading

    from notify_world import free_port

    settings, engine, user, inbox = world
    names = [f"race{i}" for i in range(6)]
    for name in names:
        add_filter(engine, settings, user, name=name, sql=SQL, output="email", trigger="alert")
    new_alerts(tmp_path / "a", 3, 9_400_000_001)
    ingest_files(settings, [tmp_path / "a"], progress=False, engine=engine)

    broken = make_settings(kafka=settings.kafka, database=settings.database,
                           email_from=settings.email_from, public_url=settings.public_url,
                           smtp_host="127.0.0.1", smtp_port=free_port(),  # nobody listens
                           smtp_security="none", notify_interval_s=0)
    failed = Notifier(broken, engine).run()
    assert failed.digests == {} and len(failed.errors) == len(names) and inbox.messages == []

    start = threading.Barrier(4)
    reports = []

    def worker():
        notifier = Notifier(settings, engine)
        start.wait()
        reports.append(notifier.run())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    subjects = sorted(m["Subject"] for m in inbox.take())
    assert len(subjects) == len(names)
    assert all(any(n in s for s in subjects) for n in names)
    assert sum(len(r.digests) for r in reports) == len(names)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(email_pending)).scalar() == 0
