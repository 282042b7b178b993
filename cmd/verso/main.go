// Command verso is the single binary of verso, a versioned configuration
// service: `verso serve` runs the service; `verso help` lists the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // the first signal asks for a clean stop; a second one kills
	}()
	err := newRootCommand(os.Getenv).ExecuteContext(ctx)
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode reports err on w and returns the process's exit status: 0 for
// success, 2 for a usage error (bad flag, argument or setting), 1 for any
// other error.
func exitCode(err error, w io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(w, "verso: %s\n", message(err))
	var ue *usageError
	var ce *ConfigError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(w, "Run '%s --help' for usage.\n", ue.cmd)
		return 2
	case errors.As(err, &ce):
		return 2
	}
	return 1
}

// message is the text of err without the "verso: " that verso's errors
// (and the server's answers quoting them) carry, since exitCode prints it
// once in front: "get /a: verso: not found" reads "get /a: not found".
func message(err error) string {
	s := strings.TrimPrefix(err.Error(), "verso: ")
	return strings.ReplaceAll(s, ": verso: ", ": ")
}
