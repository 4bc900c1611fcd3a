package revocation

import "fmt"

// Health is how a store is doing, for a readiness check. Stores that can
// fail report it (filestore and redisstore have a Health method); the
// in-process Replica cannot, and has none.
type Health int

const (
	// Healthy: every revocation made anywhere is enforced here.
	Healthy Health = iota
	// Degraded: the store serves, and enforces what it knows, but may
	// lack recent revocations made elsewhere or may not have stored one
	// made here. Keep the instance in service; look into the cause.
	Degraded
	// Down: the store cannot be trusted to enforce revocations (not
	// loaded yet, or refusing sessions under a fail-closed setting). Take
	// the instance out of service.
	Down
)

// String returns "healthy", "degraded" or "down".
func (h Health) String() string {
	switch h {
	case Healthy:
		return "healthy"
	case Degraded:
		return "degraded"
	case Down:
		return "down"
	}
	return fmt.Sprintf("Health(%d)", int(h))
}
