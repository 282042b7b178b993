package main

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// capture records when a server sent each of its clients data: a packet
// socket on the loopback interface, filtered in the kernel to the TCP
// segments from the server's port that carry data, each stamped by the
// kernel as it passes. A watcher's change is on its way (and, on
// loopback, in its socket) at that moment, whatever its reader does then,
// and the stamp is the same for any server.
type capture struct{ fd int }

func startCapture(port uint16) (*capture, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("packet socket (needs CAP_NET_RAW): %w", err)
	}
	c := &capture{fd}
	// The offsets are from the IP header: protocol TCP, not a fragment,
	// source port, and the payload (total length less both headers) not
	// empty.
	const drop = 18
	prog := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: 9},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.IPPROTO_TCP, Jf: drop - 1 - 1},
		{Code: unix.BPF_LD | unix.BPF_H | unix.BPF_ABS, K: 6},
		{Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, K: 0x1fff, Jt: drop - 3 - 1},
		{Code: unix.BPF_LDX | unix.BPF_B | unix.BPF_MSH, K: 0},
		{Code: unix.BPF_LD | unix.BPF_H | unix.BPF_IND, K: 0},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: uint32(port), Jf: drop - 6 - 1},
		{Code: unix.BPF_LD | unix.BPF_H | unix.BPF_ABS, K: 2},
		{Code: unix.BPF_ALU | unix.BPF_SUB | unix.BPF_X},
		{Code: unix.BPF_ST, K: 0},
		{Code: unix.BPF_LD | unix.BPF_B | unix.BPF_IND, K: 12},
		{Code: unix.BPF_ALU | unix.BPF_AND | unix.BPF_K, K: 0xf0},
		{Code: unix.BPF_ALU | unix.BPF_RSH | unix.BPF_K, K: 2},
		{Code: unix.BPF_MISC | unix.BPF_TAX},
		{Code: unix.BPF_LD | unix.BPF_MEM, K: 0},
		{Code: unix.BPF_ALU | unix.BPF_SUB | unix.BPF_X},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: 0, Jt: drop - 16 - 1},
		{Code: unix.BPF_RET | unix.BPF_K, K: 64},
		{Code: unix.BPF_RET | unix.BPF_K, K: 0},
	}
	lo, err := net.InterfaceByName("lo")
	if err == nil {
		err = unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]})
	}
	if err == nil {
		err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 1<<30)
	}
	if err == nil {
		err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}
	if err == nil {
		err = unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: lo.Index})
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("capture: %w", err)
	}
	return c, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (c *capture) close() { unix.Close(c.fd) }

// sent returns, for each client address, when the first segment with
// data at or after t0 was sent to it: what has been captured so far. It
// ends the capture.
func (c *capture) sent(t0 time.Time) (map[netip.AddrPort]time.Time, error) {
	defer c.close()
	out := map[netip.AddrPort]time.Time{}
	buf := make([]byte, 64)
	oob := make([]byte, 64)
	for {
		n, oobn, _, _, err := unix.Recvmsg(c.fd, buf, oob, unix.MSG_DONTWAIT)
		if err == unix.EAGAIN {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		at, ok := stampOf(oob[:oobn])
		ihl := int(buf[0]&0xf) * 4
		if !ok || n < ihl+4 || at.Before(t0) {
			continue
		}
		dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte(buf[16:20])), binary.BigEndian.Uint16(buf[ihl+2:]))
		if prev, seen := out[dst]; !seen || at.Before(prev) {
			out[dst] = at
		}
	}
}

// stampOf returns the receive time in a Recvmsg's control messages.
func stampOf(oob []byte) (time.Time, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, false
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= 16 {
			sec := int64(binary.NativeEndian.Uint64(m.Data))
			nsec := int64(binary.NativeEndian.Uint64(m.Data[8:]))
			return time.Unix(sec, nsec), true
		}
	}
	return time.Time{}, false
}
