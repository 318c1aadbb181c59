package testenv

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver pgtestdb uses
	"github.com/peterldowns/pgtestdb"
	"github.com/peterldowns/pgtestdb/migrators/goosemigrator"
	"github.com/redis/go-redis/v9"

	"personas/migrations"
	"personas/models"
	"personas/privacy"
)

// PostgresURL is the server tests create their databases on.
func PostgresURL() string {
	if u := os.Getenv("PERSONAS_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// RedisAddr is the Redis server tests take a database of.
func RedisAddr() string {
	if a := os.Getenv("PERSONAS_TEST_REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

func pgConfig() pgtestdb.Config {
	u, _ := url.Parse(PostgresURL())
	pw, _ := u.User.Password()
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	return pgtestdb.Config{DriverName: "pgx", Host: u.Hostname(), Port: port, User: u.User.Username(),
		Password: pw, Database: "postgres", Options: "sslmode=disable", ForceTerminateConnections: true}
}

// Databases creates a fresh data database and key store database, both migrated, and returns
// their URLs.
func Databases(t testing.TB) (dataURL, keysURL string) {
	t.Helper()
	data := pgtestdb.Custom(t, pgConfig(), goosemigrator.New(".", goosemigrator.WithFS(migrations.Data())))
	keys := pgtestdb.Custom(t, pgConfig(), goosemigrator.New(".", goosemigrator.WithFS(migrations.Keystore()),
		goosemigrator.WithTableName("goose_db_version")))
	return data.URL(), keys.URL()
}

// Connections per test environment. Tests run in parallel (-parallel of them per package, and
// -p packages at once) on a server whose max_connections is 100, so each environment keeps
// few: a data pool (the ingester's two committers, the LISTEN of the model cache, a reader)
// and a key store pool, which the keyring's cache spares most reads.
const (
	dataConns = 6
	keysConns = 2
)

// Pool opens a pgx pool of a data database, closed at cleanup.
func Pool(t testing.TB, dbURL string) *pgxpool.Pool {
	t.Helper()
	return pool(t, dbURL, dataConns)
}

func pool(t testing.TB, dbURL string, maxConns int32) *pgxpool.Pool {
	t.Helper()
	pool, err := models.OpenPool(context.Background(), dbURL, maxConns)
	if err != nil {
		t.Fatalf("open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Secrets are freshly generated keys for one test.
type Secrets struct {
	EncryptionKeys string // keyring spec
	IndexKey       []byte
	SigningKey     []byte
}

// NewSecrets makes random keys.
func NewSecrets(t testing.TB) Secrets {
	t.Helper()
	spec, err := privacy.GenerateKeyringSpec("t1")
	if err != nil {
		t.Fatal(err)
	}
	return Secrets{EncryptionKeys: spec, IndexKey: randomBytes(32), SigningKey: randomBytes(32)}
}

// Env reports the secrets as environment variables.
func (s Secrets) Env() map[string]string {
	return map[string]string{
		"PERSONAS_ENCRYPTION_KEYS": s.EncryptionKeys,
		"PERSONAS_INDEX_KEY":       base64.StdEncoding.EncodeToString(s.IndexKey),
		"PERSONAS_SIGNING_KEY":     base64.StdEncoding.EncodeToString(s.SigningKey),
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// Env is a complete test environment on real servers.
type Env struct {
	DataURL, KeysURL string
	Pool, Keys       *pgxpool.Pool
	Store            *models.Store
	Secrets          Secrets
	Keyring          *privacy.Keyring
	Index            *privacy.BlindIndex
}

// New builds databases, secrets and a Store for one test.
func New(t testing.TB) *Env {
	t.Helper()
	e := &Env{Secrets: NewSecrets(t)}
	e.DataURL, e.KeysURL = Databases(t)
	e.open(t)
	return e
}

// open builds the pools, keyring, blind index and Store of e's databases.
func (e *Env) open(t testing.TB) {
	t.Helper()
	e.Pool, e.Keys = Pool(t, e.DataURL), pool(t, e.KeysURL, keysConns)
	var err error
	if e.Keyring, err = privacy.ParseKeyring(e.Secrets.EncryptionKeys); err != nil {
		t.Fatal(err)
	}
	if e.Index, err = privacy.NewBlindIndex(e.Secrets.IndexKey); err != nil {
		t.Fatal(err)
	}
	e.Store = models.NewStore(e.Pool, e.Keys, e.Keyring, e.Index)
}

// Tally runs a query of two columns, a name and a count (a GROUP BY), on the test's data
// database and returns the counts by name.
func (e *Env) Tally(t testing.TB, query string, args ...any) map[string]int64 {
	t.Helper()
	rows, err := e.Pool.Query(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("tally %q: %v", query, err)
	}
	defer rows.Close()
	got := map[string]int64{}
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			t.Fatalf("tally %q: %v", query, err)
		}
		got[name] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("tally %q: %v", query, err)
	}
	return got
}

// Redis takes a Redis database of its own for the test (1–15, locked in database 0 so that
// packages running in parallel never share one), flushes it, and returns a client and its URL.
func Redis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	ctx := context.Background()
	lock := redis.NewClient(&redis.Options{Addr: RedisAddr(), DB: 0})
	defer lock.Close()
	deadline := time.Now().Add(2 * time.Minute)
	token := base64.RawURLEncoding.EncodeToString(randomBytes(9))
	for {
		for db := 1; db <= 15; db++ {
			key := "personas:test:redis-db:" + strconv.Itoa(db)
			ok, err := lock.SetNX(ctx, key, token, 30*time.Minute).Result()
			if err != nil {
				t.Fatalf("Redis at %s: %v", RedisAddr(), err)
			}
			if !ok {
				continue
			}
			c := redis.NewClient(&redis.Options{Addr: RedisAddr(), DB: db})
			if err := c.FlushDB(ctx).Err(); err != nil {
				t.Fatalf("flush Redis db %d: %v", db, err)
			}
			t.Cleanup(func() {
				_ = c.FlushDB(context.Background()).Err()
				_ = c.Close()
				l := redis.NewClient(&redis.Options{Addr: RedisAddr(), DB: 0})
				_ = l.Eval(context.Background(), `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`, []string{key}, token).Err()
				_ = l.Close()
			})
			return c, fmt.Sprintf("redis://%s/%d", RedisAddr(), db)
		}
		if time.Now().After(deadline) {
			t.Fatal("no free Redis test database in 2 minutes")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// OnDatabases builds a test environment on databases that already exist (a formation's, say):
// both are migrated, and the pools, secrets and Store are the test's own.
func OnDatabases(t testing.TB, dataURL, keysURL string) *Env {
	t.Helper()
	e := &Env{Secrets: NewSecrets(t), DataURL: dataURL, KeysURL: keysURL}
	e.open(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := models.DataSchema.Migrate(ctx, e.Pool); err != nil {
		t.Fatal(err)
	}
	if _, err := models.KeystoreSchema.Migrate(ctx, e.Keys); err != nil {
		t.Fatal(err)
	}
	return e
}
