package watchhub

import "syscall"

// sendMore writes b on the socket and tells it that more follows, so that
// it holds a part smaller than a segment until then (or until the shutdown
// of its writing side, which sends it with the end of the stream).
func sendMore(fd int, b []byte) (int, error) {
	return syscall.SendmsgN(fd, b, nil, nil, syscall.MSG_MORE)
}
