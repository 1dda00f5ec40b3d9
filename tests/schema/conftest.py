"""Fixtures for the schema tests: a scratch database per test, sqitch.

The tests need a PostgreSQL server. FLEETREG_DB is a libpq conninfo of a
role that may create databases, for example
"host=/tmp/pg dbname=postgres user=postgres". Each test creates its own
database and drops it afterwards.
"""

import os
import subprocess
import uuid

import psycopg2
import psycopg2.extensions
import pytest

SQITCH_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "..", "..", "sqitch")

# libpq conninfo keys and the environment variables psql and DBD::Pg read.
LIBPQ_ENV = {
    "host": "PGHOST",
    "port": "PGPORT",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "sslmode": "PGSSLMODE",
}


def server_dsn():
    dsn = os.environ.get("FLEETREG_DB")
    if not dsn:
        pytest.skip("FLEETREG_DB is not set: set it to the libpq conninfo "
                    "of a role that may CREATE DATABASE")
    return dsn


class ScratchDatabase:
    """One test's database, with helpers to deploy and query it."""

    def __init__(self, server, name):
        params = psycopg2.extensions.parse_dsn(server)
        params["dbname"] = name
        self.name = name
        self.dsn = psycopg2.extensions.make_dsn(**params)
        self.env = dict(os.environ)
        for key, variable in LIBPQ_ENV.items():
            if key in params:
                self.env[variable] = params[key]
        # The connection details travel in the environment, so the target
        # URI needs only the database name; it works for unix sockets and
        # TCP alike, and keeps a password out of the process list.
        self.target = "db:pg:" + name

    def connect(self, autocommit=True):
        connection = psycopg2.connect(self.dsn)
        connection.autocommit = autocommit
        return connection

    def sqitch(self, *args, check=True):
        result = subprocess.run(
            ["sqitch", *args, "--target", self.target],
            cwd=SQITCH_DIR, env=self.env, capture_output=True, text=True,
            timeout=600)
        if check and result.returncode != 0:
            pytest.fail("sqitch %s failed with status %d:\n%s\n%s"
                        % (" ".join(args), result.returncode,
                           result.stdout, result.stderr))
        return result

    def start_sqitch(self, *args):
        """Starts sqitch without waiting, in a new process group so that a
        test can kill it together with its psql."""
        return subprocess.Popen(
            ["sqitch", *args, "--target", self.target], cwd=SQITCH_DIR,
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True)

    def deploy(self, to=None, check=True):
        args = ["deploy"]
        if to:
            args += ["--to", to]
        return self.sqitch(*args, check=check)

    def execute(self, sql, params=None):
        # Not "with connection": psycopg2 opens a transaction block there
        # even in autocommit mode, and CREATE INDEX CONCURRENTLY fails in one.
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
        finally:
            connection.close()

    def query(self, sql, params=None):
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()
        finally:
            connection.close()

    def scalar(self, sql, params=None):
        return self.query(sql, params)[0][0]


@pytest.fixture
def scratch_db():
    server = server_dsn()
    name = "fleetreg_schema_" + uuid.uuid4().hex[:12]
    admin = psycopg2.connect(server)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("CREATE DATABASE " + name)
    try:
        yield ScratchDatabase(server, name)
    finally:
        with admin.cursor() as cursor:
            cursor.execute("DROP DATABASE IF EXISTS " + name
                           + " WITH (FORCE)")
        admin.close()
