package harness

import (
	"fmt"
	"net"
	"sync"
)

// usedPorts keeps ports handed out in this process from being handed out
// twice before their owner binds them.
var usedPorts sync.Map

// FreePort returns a loopback port that is free on both TCP and UDP.
func FreePort() (int, error) {
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		if _, taken := usedPorts.LoadOrStore(port, true); taken {
			continue
		}
		return port, nil
	}
	return 0, fmt.Errorf("harness: no free port")
}
