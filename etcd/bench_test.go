package etcd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/verso-config/verso/server"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// BenchmarkCluster compares verso's throughput on the 3-member test
// cluster, through two verso servers over real HTTP, with etcd's own for
// the same work in the same run:
//
//	go test -run '^$' -bench Cluster -benchtime 3s ./etcd/
//
// Every benchmark runs its operations from parallel goroutines
// (GOMAXPROCS times -cpu); docs/CLUSTER.md has figures.
func BenchmarkCluster(b *testing.B) {
	prefix := newPrefix()
	var urls []string
	for range 2 {
		s := mustOpen(b, &Options{Prefix: prefix, Logger: slog.New(slog.DiscardHandler)})
		hs := newBenchServer(b, s)
		urls = append(urls, hs)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: cluster.Endpoints(), Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cli.Close() })
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	const keys = 64
	value := strings.Repeat("v", 100)
	for i := range keys {
		do(b, hc, http.MethodPut, fmt.Sprintf("%s/config/k%d", urls[i%2], i), value)
		if _, err := cli.Put(context.Background(), fmt.Sprintf("/bench-etcd/k%d", i), value); err != nil {
			b.Fatal(err)
		}
	}
	run := func(b *testing.B, op func(i int64) error) {
		var n atomic.Int64
		b.SetParallelism(8)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := op(n.Add(1)); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	}
	ctx := context.Background()
	b.Run("etcd-get", func(b *testing.B) {
		run(b, func(i int64) error {
			_, err := cli.Get(ctx, fmt.Sprintf("/bench-etcd/k%d", i%keys))
			return err
		})
	})
	b.Run("etcd-get-serializable", func(b *testing.B) {
		run(b, func(i int64) error {
			_, err := cli.Get(ctx, fmt.Sprintf("/bench-etcd/k%d", i%keys), clientv3.WithSerializable())
			return err
		})
	})
	b.Run("etcd-put", func(b *testing.B) {
		run(b, func(i int64) error {
			_, err := cli.Put(ctx, fmt.Sprintf("/bench-etcd/k%d", i%keys), value)
			return err
		})
	})
	b.Run("verso-get", func(b *testing.B) {
		run(b, func(i int64) error {
			return do(b, hc, http.MethodGet, fmt.Sprintf("%s/config/k%d", urls[i%2], i%keys), "")
		})
	})
	b.Run("verso-get-consistent", func(b *testing.B) {
		run(b, func(i int64) error {
			return do(b, hc, http.MethodGet, fmt.Sprintf("%s/config/k%d?consistent", urls[i%2], i%keys), "")
		})
	})
	b.Run("verso-put", func(b *testing.B) {
		run(b, func(i int64) error {
			return do(b, hc, http.MethodPut, fmt.Sprintf("%s/config/k%d", urls[i%2], i%keys), value)
		})
	})
}

func newBenchServer(b *testing.B, s *Store) string {
	hs := httptest.NewServer(server.New(s, &server.Options{Logger: slog.New(slog.DiscardHandler)}))
	b.Cleanup(hs.Close)
	return hs.URL
}

// do sends one request and wants a 2xx answer.
func do(b *testing.B, hc *http.Client, method, url, body string) error {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s", method, url, resp.Status)
	}
	return nil
}
