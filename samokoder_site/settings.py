"""Samokoder settings: every environment variable is read here, and only here.

Defaults give the embedded mode (SQLite under ``var/``, a private Redis started by
``make run``); production sets the variables listed in ``.env.example``.
"""

import secrets
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from core import providers as llm_table
from core.embedded import persistent_secret

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=True)
TESTING = env.bool("SAMOKODER_TESTING", default=False)


def _secret(name: str, generate, filename: str) -> str:
    value = env.str(name, default="")
    if value:
        return value
    if not DEBUG:
        raise ImproperlyConfigured(f"{name} must be set when DEBUG is off.")
    return persistent_secret(VAR_DIR / filename, generate)


SECRET_KEY = _secret("SECRET_KEY", lambda: secrets.token_urlsafe(50), "secret_key")
# Comma-separated Fernet keys: the first encrypts, every one decrypts (MultiFernet).
SAMOKODER_ENCRYPTION_KEYS = [
    key.strip()
    for key in _secret(
        "SAMOKODER_ENCRYPTION_KEYS", lambda: Fernet.generate_key().decode(), "encryption_keys"
    ).split(",")
    if key.strip()
]

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
PORT = env.int("PORT", default=8000)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "projects",
    "files",
    "llm",
    "execution",
    "generation",
    "preview",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "samokoder_site.pages.FriendlyErrorsMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.ratelimit.RateLimitMiddleware",
]

ROOT_URLCONF = "samokoder_site.urls"
ASGI_APPLICATION = "samokoder_site.asgi.application"

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
            ],
        },
    },
]

# SQLite in WAL mode is the embedded default: readers never wait for the one writer,
# and IMMEDIATE transactions fail fast instead of deadlocking on lock upgrades.
# An empty variable (as `.env.example` lists them) means "use the default".
DATABASES = {
    "default": environ.Env.db_url_config(
        env.str("DATABASE_URL", default="") or f"sqlite:///{VAR_DIR / 'samokoder.sqlite3'}"
    ),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
# Kept open between requests on either database: opening one cost a SQLite request a
# quarter of its CPU time (bench/api_load.py), a PostgreSQL one a round trip and more.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="") or "redis://127.0.0.1:6379/0"
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="samokoder"),
    }
}
# The pub/sub layer delivered a step to 200 sockets faster than the default one in
# bench/websocket.py (p50 75 vs 98 ms) and never drops from a full per-socket queue; both
# work, SAMOKODER_CHANNEL_LAYER=core picks the default one. Missed messages are replayed
# from the event log either way.
_CHANNEL_LAYER_BACKENDS = {
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
    "core": "channels_redis.core.RedisChannelLayer",
}
# The channel layer carries only the account sockets' sign-in checks; a project's live
# messages go over raw Redis pub/sub (generation/livefeed.py), one subscription per process.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": _CHANNEL_LAYER_BACKENDS[
            env.str("SAMOKODER_CHANNEL_LAYER", default="") or "pubsub"
        ],
        # redis-py 8 raises once its async pool is full (default 100): many sockets
        # connecting at once need a larger pool.
        "CONFIG": {"hosts": [{"address": REDIS_URL, "max_connections": 1000}]},
    }
}

# Celery: the pipeline runs in workers; acks late so a killed worker's run is redelivered.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = env.str("SAMOKODER_QUEUE_DEFAULT", default="default")
SAMOKODER_QUEUE_GENERATION = env.str("SAMOKODER_QUEUE_GENERATION", default="generation")
CELERY_BEAT_SCHEDULE = {
    "cleanup-containers": {"task": "execution.cleanup_containers", "schedule": 3600.0},
    "prune-contents": {"task": "files.prune_contents", "schedule": 3600.0},
    "cleanup-previews": {"task": "preview.cleanup", "schedule": 3600.0},
    "resume-stale-runs": {
        "task": "generation.resume_stale_runs",
        "schedule": env.float("SAMOKODER_RESUME_STALE_EVERY", default=60.0),
    },
}
# Beat's tasks have a queue of their own, so that long runs filling the generation queue
# never delay the cleanup or the resume of a dead worker's runs (exact names win over the
# generation.* pattern).
SAMOKODER_QUEUE_BEAT = env.str("SAMOKODER_QUEUE_BEAT", default="beat")
# A preview's task lasts as long as the preview: a worker of their own (threads) runs them.
SAMOKODER_QUEUE_PREVIEW = env.str("SAMOKODER_QUEUE_PREVIEW", default="previews")
CELERY_TASK_ROUTES = {
    **{entry["task"]: {"queue": SAMOKODER_QUEUE_BEAT} for entry in CELERY_BEAT_SCHEDULE.values()},
    "generation.*": {"queue": SAMOKODER_QUEUE_GENERATION},
    "preview.run": {"queue": SAMOKODER_QUEUE_PREVIEW},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:settings"
LOGOUT_REDIRECT_URL = "accounts:login"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",  # 12 rounds (invariant)
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", _("Russian")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
# WhiteNoise serves from the finders in DEBUG, so `make run` needs no collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
if DEBUG:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns when it is missing

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "core.pagination.PageNumbers",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Samokoder API",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI served from the vendored sidecar package: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(days=env.int("JWT_ACCESS_TOKEN_DAYS", default=7)),
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default="") or SECRET_KEY,
    "USER_ID_FIELD": "id",
    "AUTH_HEADER_TYPES": ("Bearer",),
    # A token carries a hash of the password hash: a password change or reset ends every
    # token issued before it (401 "password_changed").
    "CHECK_REVOKE_TOKEN": True,
}

# Seconds between checks that a socket's session or token still signs in (log-out and
# password changes on the site's pages close sockets at once; this catches the rest).
SAMOKODER_WS_SIGN_IN_CHECK_SECONDS = env.float("SAMOKODER_WS_SIGN_IN_CHECK_SECONDS", default=30.0)

# E-mail (password reset links). The embedded mode prints messages on the console;
# production sets EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.com:587.
_EMAIL = environ.Env.email_url_config(env.str("EMAIL_URL", default="") or "consolemail://")
globals().update({name: value for name, value in _EMAIL.items() if value not in (None, "")})
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="") or "Samokoder <noreply@localhost>"

# Rate limits (invariant 13), on the shared Redis cache.
RATELIMIT_USE_CACHE = "default"
RATELIMIT_AUTH = env.str("RATELIMIT_AUTH", default="5/m")
# Rate limits count by core.ratelimit.client_ip: the peer address, or behind
# this many reverse proxies (each appending to X-Forwarded-For) the address the outermost
# one saw. 0 never reads the header, which any client can write.
SAMOKODER_TRUSTED_PROXIES = env.int("SAMOKODER_TRUSTED_PROXIES", default=0)
RATELIMIT_IP_META_KEY = "core.ratelimit.client_ip"
# django-ratelimit lists django-redis, not Django's own RedisCache; both increment
# atomically with INCR, so the "not officially supported" warning does not apply.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"]

# Project files (invariants 17-19): text only, bounded. A step stores a full manifest
# once the changes since the last one outnumber the project's files, or N steps after it.
SAMOKODER_MAX_FILE_BYTES = env.int("SAMOKODER_MAX_FILE_BYTES", default=1_000_000)
SAMOKODER_MAX_PROJECT_BYTES = env.int("SAMOKODER_MAX_PROJECT_BYTES", default=50_000_000)
SAMOKODER_MAX_PATH_LENGTH = 255
SAMOKODER_MAX_PATH_DEPTH = 12
SAMOKODER_CHECKPOINT_EVERY = env.int("SAMOKODER_CHECKPOINT_EVERY", default=1000)
RATELIMIT_PROJECTS = env.str("RATELIMIT_PROJECTS", default="10/d")

# Sandboxes (invariants 20-22). bubblewrap is the embedded default; docker for production
# (any DOCKER_HOST). No sandbox has a network: dependency installs reach the registries
# through the package proxy, over a Unix socket that exists only while they run.
SAMOKODER_SANDBOX_BACKEND = env.str("SAMOKODER_SANDBOX_BACKEND", default="bubblewrap")
SAMOKODER_SANDBOX_IMAGE = env.str("SAMOKODER_SANDBOX_IMAGE", default="samokoder-sandbox:bookworm")
SAMOKODER_SANDBOX_UID = env.int("SAMOKODER_SANDBOX_UID", default=10001)
# The Docker sandbox's workspace: bind-mounted from this machine, or copied in and out
# through the Docker API before and after each command, for a daemon that cannot see this
# machine's folders. Default: copy when DOCKER_HOST is a tcp:// or ssh:// endpoint.
_COPY_WORKSPACE = env.str("SAMOKODER_DOCKER_COPY_WORKSPACE", default="")
SAMOKODER_DOCKER_COPY_WORKSPACE = (
    env.bool("SAMOKODER_DOCKER_COPY_WORKSPACE")
    if _COPY_WORKSPACE
    else env.str("DOCKER_HOST", default="").startswith(("tcp://", "ssh://"))
)
# bubblewrap as root: each running command gets a uid of its own from
# SAMOKODER_SANDBOX_UID .. + COUNT - 1 (process limits count per uid).
SAMOKODER_SANDBOX_UID_COUNT = env.int("SAMOKODER_SANDBOX_UID_COUNT", default=64)
SAMOKODER_SANDBOX_MEMORY_MB = env.int("SAMOKODER_SANDBOX_MEMORY_MB", default=4096)
SAMOKODER_SANDBOX_CPUS = env.float("SAMOKODER_SANDBOX_CPUS", default=1.0)
SAMOKODER_SANDBOX_PIDS = env.int("SAMOKODER_SANDBOX_PIDS", default=128)
SAMOKODER_SANDBOX_FILE_SIZE_MB = env.int("SAMOKODER_SANDBOX_FILE_SIZE_MB", default=256)
SAMOKODER_SANDBOX_OUTPUT_BYTES = env.int("SAMOKODER_SANDBOX_OUTPUT_BYTES", default=1_000_000)
# Size of each of the sandbox's /tmp and /dev/shm (RAM, so within the memory limit too).
SAMOKODER_SANDBOX_TMPFS_MB = env.int("SAMOKODER_SANDBOX_TMPFS_MB", default=256)
# A command whose workspace grows past this on disk is stopped (looked at every second).
SAMOKODER_SANDBOX_DISK_MB = env.int("SAMOKODER_SANDBOX_DISK_MB", default=5120)
# bubblewrap: a cgroup per command (memory, CPU, processes) where cgroups are writable;
# off, or where they are not, the limits fall back to rlimits (stated in /readyz).
SAMOKODER_SANDBOX_CGROUPS = env.bool("SAMOKODER_SANDBOX_CGROUPS", default=True)
# Sync-back: what one command may create; over either limit its whole change is refused.
SAMOKODER_SYNC_MAX_FILES = env.int("SAMOKODER_SYNC_MAX_FILES", default=2000)
SAMOKODER_SYNC_MAX_BYTES = env.int("SAMOKODER_SYNC_MAX_BYTES", default=50_000_000)
SAMOKODER_COMMAND_TIMEOUT = env.float("SAMOKODER_COMMAND_TIMEOUT", default=300.0)
# Generation runs (issue 6): guards per run, overridable per project; the heartbeat lets
# a beat task hand a run whose worker died to another worker.
SAMOKODER_RUN_MAX_COST = Decimal(env.str("SAMOKODER_RUN_MAX_COST", default="") or "5.00")  # USD
SAMOKODER_RUN_MAX_LLM_CALLS = env.int("SAMOKODER_RUN_MAX_LLM_CALLS", default=200)
# A run on the platform's own keys spends at most this (USD), whatever budget the project
# or its user set; and only models with a price may run there (an unknown cost is refused).
SAMOKODER_PLATFORM_MAX_RUN_COST = Decimal(
    env.str("SAMOKODER_PLATFORM_MAX_RUN_COST", default="") or "1.00"
)
SAMOKODER_RUN_MAX_SECONDS = env.float("SAMOKODER_RUN_MAX_SECONDS", default=3600.0)
SAMOKODER_RUN_FIX_ATTEMPTS = 3  # invariant 12: at most 3 attempts to fix one error
# Celery's limits on one drive of a run (a task drives until the run ends or waits for an
# answer). The wall clock above is checked between steps and one step may take a while
# (a command, an LLM call with its retries): the soft limit leaves that margin and fails
# the run; the hard limit kills the pool child should the soft one not stop it in time.
# Either may be set outright (seconds; 0 turns it off).
SAMOKODER_RUN_TIME_LIMIT_MARGIN = env.float("SAMOKODER_RUN_TIME_LIMIT_MARGIN", default=900.0)
SAMOKODER_RUN_SOFT_TIME_LIMIT = float(
    env.str("SAMOKODER_RUN_SOFT_TIME_LIMIT", default="")
    or SAMOKODER_RUN_MAX_SECONDS + SAMOKODER_RUN_TIME_LIMIT_MARGIN
)
SAMOKODER_RUN_HARD_TIME_LIMIT = float(
    env.str("SAMOKODER_RUN_HARD_TIME_LIMIT", default="") or SAMOKODER_RUN_SOFT_TIME_LIMIT + 60
)
# Resumes in a row after the run's worker died (no step committed in between) before the
# run is failed instead of being handed on again.
SAMOKODER_RUN_MAX_RESUMES = env.int("SAMOKODER_RUN_MAX_RESUMES", default=3)
SAMOKODER_RUN_HEARTBEAT_SECONDS = env.float("SAMOKODER_RUN_HEARTBEAT_SECONDS", default=5.0)
SAMOKODER_RUN_STALE_SECONDS = env.float("SAMOKODER_RUN_STALE_SECONDS", default=60.0)
SAMOKODER_CODEMONKEY_LIMIT = env.int("SAMOKODER_CODEMONKEY_LIMIT", default=4)
# Runs of one user running at once; more wait, queued, without holding a worker.
SAMOKODER_RUNS_PER_USER = env.int("SAMOKODER_RUNS_PER_USER", default=2)
SAMOKODER_WORKSPACES_DIR = env.str("SAMOKODER_WORKSPACES_DIR", default="") or str(
    VAR_DIR / "workspaces"
)

# The package proxy (execution/proxy.py, Squid): the registry hosts installs may reach
# (HTTPS only; every other host is refused with 403 and logged), the URL of the running
# proxy (scripts/with_proxy.py sets it under `make run`), a parent proxy to chain through
# when this host reaches the registries only through one (default: its HTTPS_PROXY), and
# the CA bundle installs verify the registries with (seen read-only in the sandbox).
SAMOKODER_PACKAGE_HOSTS = env.list(
    "SAMOKODER_PACKAGE_HOSTS", default=["pypi.org", "files.pythonhosted.org", "registry.npmjs.org"]
)
SAMOKODER_PACKAGE_PROXY = env.str("SAMOKODER_PACKAGE_PROXY", default="")
# Its access log, read to tell an install what was refused (set with the URL above).
SAMOKODER_PACKAGE_PROXY_LOG = env.str("SAMOKODER_PACKAGE_PROXY_LOG", default="")
SAMOKODER_PACKAGE_UPSTREAM_PROXY = env.str(
    "SAMOKODER_PACKAGE_UPSTREAM_PROXY",
    default=env.str("HTTPS_PROXY", default="") or env.str("https_proxy", default=""),
)
SAMOKODER_PACKAGE_CA_BUNDLE = env.str(
    "SAMOKODER_PACKAGE_CA_BUNDLE", default="/etc/ssl/certs/ca-certificates.crt"
)
SAMOKODER_INSTALL_TIMEOUT = env.float("SAMOKODER_INSTALL_TIMEOUT", default=600.0)

# Live previews (preview/): the generated web app runs in its sandbox and is served on an
# origin of its own, never the platform's: each preview is the subdomain <id>. of this
# origin's host (*.localhost resolves to the loopback in browsers; in production a
# wildcard DNS name, e.g. https://preview.example.com). A second listener serves it.
SAMOKODER_PREVIEW_ORIGIN = env.str(
    "SAMOKODER_PREVIEW_ORIGIN", default="http://preview.localhost:8001"
)
SAMOKODER_PREVIEW_IDLE_SECONDS = env.float("SAMOKODER_PREVIEW_IDLE_SECONDS", default=900.0)
SAMOKODER_PREVIEW_PER_USER = env.int("SAMOKODER_PREVIEW_PER_USER", default=2)
# All previews at once: each holds a thread of the previews worker (the Procfile's
# --concurrency, which reads this same variable).
SAMOKODER_PREVIEW_TOTAL = env.int("SAMOKODER_PREVIEW_TOTAL", default=8)
SAMOKODER_PREVIEW_START_SECONDS = env.float("SAMOKODER_PREVIEW_START_SECONDS", default=30.0)
SAMOKODER_PREVIEW_MAX_SECONDS = env.float("SAMOKODER_PREVIEW_MAX_SECONDS", default=8 * 3600.0)
SAMOKODER_PREVIEW_TOKEN_SECONDS = env.int("SAMOKODER_PREVIEW_TOKEN_SECONDS", default=60)
SAMOKODER_PREVIEW_BODY_BYTES = env.int("SAMOKODER_PREVIEW_BODY_BYTES", default=10 * 1024 * 1024)
SAMOKODER_PREVIEW_UPSTREAM_SECONDS = env.float("SAMOKODER_PREVIEW_UPSTREAM_SECONDS", default=60.0)
# The preview origin's front (preview.front): nginx's configuration, its cache of admissions,
# the gateway's socket and the links to the apps' sockets. Keep it short: a Unix socket's
# path must fit in 108 bytes.
SAMOKODER_PREVIEW_FRONT_DIR = env.str(
    "SAMOKODER_PREVIEW_FRONT_DIR", default=str(VAR_DIR / "preview")
)

# LLM providers. System keys are the fallback when a user has none (invariant 16);
# base URLs point an adapter at an OpenAI-compatible server or the replay server.
# The variables' names and the default models come from the provider table, a module
# that imports no Django app and no SDK.
LLM_SYSTEM_KEYS = {p.name: env.str(p.key_env, default="") for p in llm_table.PROVIDERS}
LLM_BASE_URLS = {p.name: env.str(p.base_url_env, default="") or None for p in llm_table.PROVIDERS}
LLM_DEFAULT_MODELS = {
    p.name: env.str(p.model_env, default=p.default_model) for p in llm_table.PROVIDERS
}
LLM_TIMEOUT = env.float("LLM_TIMEOUT", default=120.0)
LLM_MAX_RETRIES = 3  # invariant 14: at most 3 retries of one request
LLM_RETRY_BASE_DELAY = env.float("LLM_RETRY_BASE_DELAY", default=1.0)
LLM_RETRY_MAX_DELAY = env.float("LLM_RETRY_MAX_DELAY", default=30.0)
LLM_PARALLEL_LIMIT = env.int("LLM_PARALLEL_LIMIT", default=8)
# Requests per user on the platform's own keys (invariant 13); "" turns it off.
RATELIMIT_LLM_SYSTEM = env.str("RATELIMIT_LLM_SYSTEM", default="50/h")
RATELIMIT_LLM_BYOK = env.str("RATELIMIT_LLM_BYOK", default="")

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads it to send the token on non-form requests
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # The SDKs' HTTP clients log every request line at INFO: noise, not news.
    "loggers": {
        name: {"level": "WARNING"} for name in ("httpx", "httpx2", "httpcore", "httpcore2")
    },
}

if TESTING:
    # bcrypt at 12 rounds costs ~0.4 s a hash; the hasher itself is tested separately.
    PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        *PASSWORD_HASHERS,
    ]
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        # A file, not memory: Celery workers started by the pipeline tests share it.
        DATABASES["default"]["TEST"] = {
            "NAME": str(VAR_DIR / f"test-{env.str('CACHE_KEY_PREFIX', default='run')}.sqlite3")
        }
