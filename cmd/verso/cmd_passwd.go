package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"
)

func newPasswdCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "passwd FILE USER",
		Short: "Add a user to a users file, or change their password",
		Long: `Passwd sets USER's password in FILE, an Apache htpasswd file as 'verso serve
--users FILE' reads it: it adds the user, or replaces their entry, with a
bcrypt hash, and leaves every other line as it was. FILE is created (mode
0600) if it does not exist.

The password is read from the terminal without echo (twice, to catch a
typo), or, when standard input is not a terminal, from its first line.
A running verso picks the change up by itself.`,
		Example: `  verso passwd /etc/verso/users alice
  printf '%s\n' "$PASSWORD" | verso passwd /etc/verso/users deploy`,
		Args: argsBetween(2, 2, "FILE USER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			file, user := args[0], args[1]
			if err := validUserName(user); err != nil {
				return usageErrorf(cmd, "invalid user name %q: %v", user, err)
			}
			password, err := readPassword(cmd.InOrStdin(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			added, err := setPassword(file, user, password)
			if err != nil {
				return err
			}
			verb := "Updating"
			if added {
				verb = "Adding"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s password for user %s\n", verb, user)
			return nil
		},
	}
}

// validUserName refuses names an htpasswd line cannot hold or a log would
// show ambiguously.
func validUserName(user string) error {
	switch {
	case user == "":
		return errors.New("empty")
	case strings.Contains(user, ":"):
		return errors.New("contains ':'")
	case strings.IndexFunc(user, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return errors.New("contains white space or a control character")
	case strings.HasPrefix(user, "#"):
		return errors.New("starts with '#'")
	}
	return nil
}

// readPassword reads the new password: from a terminal without echo,
// twice; otherwise the first line of in.
func readPassword(in io.Reader, prompt io.Writer) (string, error) {
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(prompt, "New password: ")
		first, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		fmt.Fprint(prompt, "Re-type new password: ")
		second, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if !bytes.Equal(first, second) {
			return "", errors.New("the passwords do not match")
		}
		return checkPassword(string(first))
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	return checkPassword(strings.TrimRight(line, "\r\n"))
}

func checkPassword(p string) (string, error) {
	switch {
	case p == "":
		return "", errors.New("empty password")
	case len(p) > 72:
		return "", errors.New("password longer than 72 bytes (bcrypt reads no more)")
	}
	return p, nil
}

// setPassword gives user a bcrypt entry for password in the htpasswd file
// at path, replacing theirs or adding one, and reports whether it added.
// The file is replaced in one rename, so a running verso never reads half
// of it.
func setPassword(path, user, password string) (added bool, err error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return false, fmt.Errorf("hash password: %w", err)
	}
	entry := user + ":" + string(hash)
	old, err := os.ReadFile(path)
	mode := fs.FileMode(0o600)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return false, err
	default:
		if fi, err := os.Stat(path); err == nil {
			mode = fi.Mode().Perm()
		}
	}
	var out []string
	added = true
	text := string(old)
	if text != "" {
		for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
			name, _, _ := strings.Cut(strings.TrimRight(line, "\r"), ":")
			if name == user && added {
				line, added = entry, false
			}
			out = append(out, line)
		}
	}
	if added {
		out = append(out, entry)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(strings.Join(out, "\n") + "\n"); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return false, err
	}
	return added, nil
}
