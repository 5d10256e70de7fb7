package runner

import (
	"context"
	"fmt"
	"os/exec"
	"testing"
	"time"
)

// BenchmarkPipelineOverhead runs the same event scripts two ways in each
// iteration: through the Runner (scan, environment, process group, output
// capture, result stored on disk) and as a plain fork+exec of each script
// in turn (exec.Command(...).Run()). It reports both per script and the
// difference, the pipeline's own cost per script (goal: under 1 ms).
//
// The overhead is computed from the fastest iteration of each way, which
// filters out the noise of a busy machine; the means are reported too.
func BenchmarkPipelineOverhead(b *testing.B) {
	for _, n := range []int{1, 10} {
		b.Run(fmt.Sprintf("scripts=%d", n), func(b *testing.B) {
			f := newFixture(b)
			var paths []string
			for i := range n {
				paths = append(paths, f.scriptIn(f.dir, fmt.Sprintf("%02d.bench", i), "#!/bin/sh\necho ok\n", 0o755))
			}
			r := New(f.config())
			ctx := context.Background()
			var inRunner, plain time.Duration
			minRunner, minPlain := time.Duration(1<<62), time.Duration(1<<62)
			b.ResetTimer()
			for b.Loop() {
				t0 := time.Now()
				res, err := r.Run(ctx, Monitor)
				if err != nil || res.Status != EventOK {
					b.Fatalf("run: %v %v", err, res)
				}
				t1 := time.Now()
				for _, p := range paths {
					if err := exec.Command(p, "monitor").Run(); err != nil {
						b.Fatal(err)
					}
				}
				dr, dp := t1.Sub(t0), time.Since(t1)
				inRunner += dr
				plain += dp
				minRunner, minPlain = min(minRunner, dr), min(minPlain, dp)
			}
			per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N*n) }
			b.ReportMetric(per(inRunner), "runner-ns/script")
			b.ReportMetric(per(plain), "exec-ns/script")
			b.ReportMetric(float64((minRunner-minPlain).Nanoseconds())/float64(n), "overhead-ns/script")
		})
	}
}
