package models

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Domain errors, mapped to HTTP statuses in one place by the api package.
var (
	// ErrNotFound means the thing does not exist or the caller may not know that it does.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the change collides with the current state (a duplicate, a lost race).
	ErrConflict = errors.New("conflict")
	// ErrForbidden means the caller is known but lacks the role for this action.
	ErrForbidden = errors.New("forbidden")
	// ErrUnauthenticated means no valid credential came with the request.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrUnavailable means a backing store could not be reached; the caller may retry.
	ErrUnavailable = errors.New("storage unavailable")
	// ErrKeyDestroyed means the project's data key was destroyed: its ciphertext is unreadable.
	ErrKeyDestroyed = errors.New("project data key destroyed")
)

// ValidationError says which input field is wrong and why.
type ValidationError struct {
	Field   string
	Message string
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Invalid builds a *ValidationError.
func Invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// translate turns driver errors into domain errors, keeping the original for logs.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505":
			return fmt.Errorf("%w: %s", ErrConflict, pgErr.ConstraintName)
		case "23514", "22P02", "22001":
			return &ValidationError{Message: "value rejected by the database (" + pgErr.ConstraintName + ")"}
		}
		// 25006: a write reached a server that became a standby (a failover demoted it); the
		// pool's next connection finds the new primary, so the caller may retry.
		if strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P03" || pgErr.Code == "25006" {
			return fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		return err
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) || isConnError(err) {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return err
}

func isConnError(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "connection refused") || strings.Contains(msg, "broken pipe") ||
		strings.Contains(msg, "connection reset") || strings.Contains(msg, "unexpected EOF") ||
		strings.Contains(msg, "conn closed") || strings.Contains(msg, "closed pool")
}
