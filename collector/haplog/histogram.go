package haplog

import "time"

// Bucket layout: exact milliseconds below 100, then two significant digits
// per decade up to 100 s: at most 10 % error, 361 buckets.
const (
	exactBelow = 100
	perDecade  = 90
	decades    = 3 // 100–999, 1000–9999, 10000–99999 ms
	nBuckets   = exactBelow + decades*perDecade + 1
)

func bucketOf(ms int) int {
	if ms < 0 {
		ms = 0
	}
	if ms < exactBelow {
		return ms
	}
	base, step := exactBelow, 10
	for d := 0; d < decades; d++ {
		if ms < base*10 {
			return exactBelow + d*perDecade + (ms-base)/step
		}
		base, step = base*10, step*10
	}
	return nBuckets - 1
}

// bucketValue is the upper edge of a bucket, so percentiles never
// understate latency.
func bucketValue(b int) int {
	if b < exactBelow {
		return b
	}
	if b == nBuckets-1 {
		return 100_000
	}
	d := (b - exactBelow) / perDecade
	k := (b - exactBelow) % perDecade
	base, step := exactBelow, 10
	for i := 0; i < d; i++ {
		base, step = base*10, step*10
	}
	return base + (k+1)*step - 1
}

type hist struct {
	counts [nBuckets]uint32
	n      uint64
	s5xx   uint64
	s504   uint64
}

func (h *hist) reset() { *h = hist{} }

func (h *hist) add(e Entry) {
	if e.Tr >= 0 {
		h.counts[bucketOf(e.Tr)]++
		h.n++
	}
	if e.Status >= 500 && e.Status <= 599 {
		h.s5xx++
	}
	if e.Status == 504 {
		h.s504++
	}
}

// quantiles fills q with the values at the given ranks (0–1) over hs.
func quantiles(hs []*hist, ranks []float64, q []time.Duration) uint64 {
	var total uint64
	for _, h := range hs {
		total += h.n
	}
	if total == 0 {
		return 0
	}
	for i, r := range ranks {
		want := uint64(r*float64(total-1)) + 1
		var seen uint64
		for b := 0; b < nBuckets; b++ {
			for _, h := range hs {
				seen += uint64(h.counts[b])
			}
			if seen >= want {
				q[i] = time.Duration(bucketValue(b)) * time.Millisecond
				break
			}
		}
	}
	return total
}
