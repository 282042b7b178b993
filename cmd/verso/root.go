package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// usageError is a mistake in how verso was called: an unknown command or
// flag, a missing or extra argument. main exits 2 for it and points at the
// help of cmd.
type usageError struct {
	cmd string // command path, "verso serve"
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// newRootCommand returns the `verso` command with every subcommand. getenv
// reads the environment (os.Getenv in main; a map in tests).
func newRootCommand(getenv func(string) string) *cobra.Command {
	root := &cobra.Command{
		Use:   "verso",
		Short: "verso is a versioned configuration service",
		Long: `verso is a versioned configuration service: a key-value store optimised for
reads, keeping configuration keys in a tree of namespaces. Every change is a
global revision, like a Subversion commit, and the tree is served over HTTP
and WebDAV, so plain curl reads and writes it.

Start the service with 'verso serve'; see 'verso serve --help' for its flags.
The other commands are clients of a running server (--server or VERSO_URL,
default http://127.0.0.1:8080; --user or VERSO_USER, the password from
VERSO_PASSWORD or asked for): get, put, ls, mkdir and rm for everyday work,
lock and unlock to hold off other writers; log, diff and revert for history; checkout, status, commit and update for a
working copy; watch for changes; export, import, inventory and template for
programs that consume config; backup. On the server's machine: check,
restore, passwd, and load and dump (Subversion dump streams). 'verso help
COMMAND' explains each.`,
		Example: `  verso serve
  curl -XMKCOL http://127.0.0.1:8080/config/namespace
  echo "value" | curl -T- http://127.0.0.1:8080/config/namespace/key
  curl -s http://127.0.0.1:8080/config/namespace/key`,
		Args: commandArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
		SilenceErrors: true, // main reports errors and picks the exit code
		SilenceUsage:  true,
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{cmd: cmd.CommandPath(), err: err}
	})
	root.AddCommand(newServeCommand(getenv))
	root.AddCommand(newPasswdCommand())
	root.AddCommand(newCheckCommand(getenv), newBackupCommand(getenv), newRestoreCommand(getenv), newLoadCommand(getenv), newDumpCommand(getenv))
	root.AddCommand(newGetCommand(getenv), newPutCommand(getenv), newLsCommand(getenv),
		newMkdirCommand(getenv), newRmCommand(getenv), newLockCommand(getenv), newUnlockCommand(getenv))
	root.AddCommand(newLogCommand(getenv), newDiffCommand(getenv), newRevertCommand(getenv))
	root.AddCommand(newCheckoutCommand(getenv), newStatusCommand(getenv), newCommitCommand(getenv), newUpdateCommand(getenv), newResolveCommand(getenv))
	root.AddCommand(newWatchCommand(getenv))
	root.AddCommand(newSchemaCommand(getenv), newValidateCommand(getenv))
	root.AddCommand(newExportCommand(getenv), newImportCommand(getenv), newInventoryCommand(getenv), newTemplateCommand(getenv))
	return root
}

// commandArgs refuses arguments to a command that takes none; for the root
// command an argument is an unknown command name.
func commandArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if !cmd.HasParent() {
		msg := fmt.Sprintf("unknown command %q", args[0])
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, " or "))
		}
		return &usageError{cmd: cmd.CommandPath(), err: errors.New(msg)}
	}
	return &usageError{cmd: cmd.CommandPath(), err: fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args)}
}
