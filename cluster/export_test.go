package cluster

import "context"

// Crash makes the node vanish from the cluster as a killed program does:
// its connection closes with no goodbye, and it does nothing more. Its
// peers learn it from the server's advisory.
func (c *Cluster) Crash() {
	if !c.leaving.CompareAndSwap(false, true) {
		return
	}
	close(c.done)
	c.wg.Wait()
	c.nc.Close()
	c.core.SetRemote(nil)
	if c.embedded {
		_ = releaseEmbedded(context.Background())
	}
	joined.Lock()
	delete(joined.m, c.core)
	joined.Unlock()
}

// Window returns the flow-control window in use.
func (c *Cluster) Window() int64 { return c.window }
