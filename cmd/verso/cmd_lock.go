package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/verso-config/verso/client"
)

func newLockCommand(getenv func(string) string) *cobra.Command {
	flags := &clientFlags{getenv: getenv}
	var opts client.LockOptions
	cmd := &cobra.Command{
		Use:   "lock PATH",
		Short: "Lock a key or a namespace against writes by others",
		Long: `Lock takes an exclusive write lock on the key or namespace at PATH (a
namespace with everything below it, or with --shallow only itself and which
keys it holds) and prints the lock's token. Until the lock is released
(verso unlock) or times out, a write to what it protects, through any
surface (curl, WebDAV, svn, the API, every server of a cluster), is refused
with 423 unless it sends the token: give it to verso's writes with
--lock-token or VERSO_LOCK_TOKEN.

The lock is the same as a WebDAV client's LOCK or svn lock: WebDAV clients
and svn info see it, with the --message you give as its owner. Locking a
path that does not exist creates an empty key there.`,
		Example: `  export VERSO_LOCK_TOKEN=$(verso lock /app/db -m "moving the database" --timeout 30m)
  verso put /app/db/host host.txt
  verso unlock /app/db "$VERSO_LOCK_TOKEN"`,
		Args: argsBetween(1, 1, "PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := parsePathArg(cmd, args[0])
			if err != nil {
				return err
			}
			if opts.Timeout < 0 {
				return usageErrorf(cmd, "invalid --timeout %v: want a positive duration", opts.Timeout)
			}
			c, err := flags.connect(cmd)
			if err != nil {
				return err
			}
			tok, err := c.Lock(cmd.Context(), p, &opts)
			if err != nil {
				return c.explain(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	cmd.Flags().StringVarP(&opts.Owner, "message", "m", "", "`TEXT` saying why you hold the lock, shown as its owner")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 0, "how long the lock lasts (a `DURATION` like 30m; default: the server's, one hour; at most a week)")
	cmd.Flags().BoolVar(&opts.Shallow, "shallow", false, "lock a namespace alone, not what is below it")
	flags.bind(cmd)
	return cmd
}

func newUnlockCommand(getenv func(string) string) *cobra.Command {
	flags := &clientFlags{getenv: getenv}
	cmd := &cobra.Command{
		Use:   "unlock PATH TOKEN",
		Short: "Release a lock",
		Long: `Unlock releases the lock whose token 'verso lock' printed. PATH is the
locked path, or any path the lock protects.`,
		Example: `  verso unlock /app/db urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e`,
		Args:    argsBetween(2, 2, "PATH TOKEN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := parsePathArg(cmd, args[0])
			if err != nil {
				return err
			}
			c, err := flags.connect(cmd)
			if err != nil {
				return err
			}
			return c.explain(c.Unlock(cmd.Context(), p, strings.Trim(args[1], "<>")))
		},
	}
	flags.bind(cmd)
	return cmd
}
