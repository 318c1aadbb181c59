#!/usr/bin/env bash
# Makes sure PostgreSQL and Redis answer at the configured URLs. Does nothing when they do;
# starts them when they do not; on a Debian machine without them, installs them first.
# Idempotent, quiet when all is well, clear when it cannot.
set -euo pipefail

DB_URL=${PERSONAS_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/personas?sslmode=disable}
REDIS_URL=${PERSONAS_REDIS_URL:-redis://127.0.0.1:6379/0}

say() { echo "services: $*" >&2; }
die() { say "$*"; exit 1; }

hostport() { # URL -> "host port"
	local rest=${1#*://}; rest=${rest#*@}; rest=${rest%%/*}; rest=${rest%%\?*}
	local host=${rest%%:*} port=${rest##*:}
	[ "$port" = "$rest" ] && port=$2
	echo "$host $port"
}
read -r PG_HOST PG_PORT <<<"$(hostport "$DB_URL" 5432)"
read -r REDIS_HOST REDIS_PORT <<<"$(hostport "$REDIS_URL" 6379)"

answers() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
local_host() { case "$1" in 127.*|localhost|::1|"") return 0;; *) return 1;; esac; }
wait_for() { for _ in $(seq 1 60); do answers "$1" "$2" && return 0; sleep 0.5; done; return 1; }

apt_updated=
apt_install() {
	command -v apt-get >/dev/null || die "$* missing and this is not a Debian machine: install it yourself"
	[ "$(id -u)" = 0 ] || die "$* missing: run as root or install it with apt-get"
	if [ -z "$apt_updated" ]; then DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null; apt_updated=1; fi
	say "installing $* from Debian's packages"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_postgres() {
	answers "$PG_HOST" "$PG_PORT" && return 0
	local_host "$PG_HOST" || die "PostgreSQL at $PG_HOST:$PG_PORT does not answer and is not local: start it yourself"
	command -v pg_ctlcluster >/dev/null || apt_install postgresql
	local version
	version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
	[ -n "$version" ] || die "no PostgreSQL cluster in /etc/postgresql"
	say "starting PostgreSQL $version"
	pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || pg_ctlcluster "$version" main start
	wait_for "$PG_HOST" "$PG_PORT" || die "PostgreSQL did not start on $PG_HOST:$PG_PORT"
	# Local development and tests connect as postgres without a password over TCP.
	local hba
	hba=$(su postgres -c "psql -tAc 'SHOW hba_file'" 2>/dev/null || true)
	if [ -n "$hba" ] && ! grep -qE '^host\s+all\s+all\s+127\.0\.0\.1/32\s+trust' "$hba"; then
		say "allowing trust authentication on 127.0.0.1 (development machine)"
		sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
		su postgres -c "psql -tAc 'SELECT pg_reload_conf()'" >/dev/null
	fi
}

ensure_redis() {
	answers "$REDIS_HOST" "$REDIS_PORT" && return 0
	local_host "$REDIS_HOST" || die "Redis at $REDIS_HOST:$REDIS_PORT does not answer and is not local: start it yourself"
	command -v redis-server >/dev/null || apt_install redis-server
	say "starting Redis on port $REDIS_PORT"
	mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
	redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
		--dir /var/lib/redis --logfile /var/log/redis/personas.log >/dev/null
	wait_for "$REDIS_HOST" "$REDIS_PORT" || die "Redis did not start on $REDIS_HOST:$REDIS_PORT"
}

ensure_postgres
ensure_redis
