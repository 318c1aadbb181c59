package main

import (
	"context"
	"errors"
	"sort"
)

func sortStrings(s []string) { sort.Strings(s) }

func (e *environment) cmdVerifyReceipt(ctx context.Context, args []string) error {
	return errors.New("verify-receipt: not available in this build")
}

func (e *environment) cmdDemo(ctx context.Context, args []string) error {
	return errors.New("demo: not available in this build")
}
