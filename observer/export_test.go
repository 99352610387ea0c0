package observer

import "github.com/spawned-go/spawned/event"

// WithSampleEvery sets the sampler's period, for tests.
var WithSampleEvery = withSampleEvery

// WithForwardTimeout bounds a forwarded request, for tests.
var WithForwardTimeout = withForwardTimeout

// SamplerRunning reports whether the sampler runs.
func (o *Observer) SamplerRunning() bool {
	o.sampler.mu.Lock()
	defer o.sampler.mu.Unlock()
	return o.sampler.running
}

// TakeSample takes one sample with sub as the sampler's subscription.
func (o *Observer) TakeSample(sub *event.Subscription) { o.sampler.take(sub) }
