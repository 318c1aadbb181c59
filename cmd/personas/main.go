// Command personas is the Personas service: API, dashboard, workers and administration, in one
// binary with subcommands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "personas:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

// run is the whole program; main only turns its error into an exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stdout)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	if args[0] == "--version" || args[0] == "-version" || args[0] == "version" {
		currentVersion().write(stdout)
		return nil
	}
	env := &environment{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	switch args[0] {
	case "serve":
		return env.cmdServe(ctx, args[1:], true, false)
	case "worker":
		return env.cmdServe(ctx, args[1:], false, true)
	case "all":
		return env.cmdServe(ctx, args[1:], true, true)
	case "migrate":
		return env.cmdMigrate(ctx, args[1:])
	case "admin":
		return env.cmdAdmin(ctx, args[1:])
	case "demo":
		return env.cmdDemo(ctx, args[1:])
	case "import":
		return env.cmdImport(ctx, args[1:])
	default:
		fmt.Fprintf(stderr, "personas: unknown command %q\n\n", args[0])
		printUsage(stderr)
		return errUsage
	}
}
