package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/verify"
	"github.com/prometheus/client_golang/prometheus"
)

// registerBlobMetrics exports what the service knows of damaged blobs: the
// downloads refused because of their blob, by how the fault was found, and
// how many blobs are known damaged.
func registerBlobMetrics(reg prometheus.Registerer, svc *depot.Service) {
	for reason, count := range map[string]func(depot.BlobFaults) int64{
		"missing": func(f depot.BlobFaults) int64 { return f.Missing },
		"size":    func(f depot.BlobFaults) int64 { return f.Size },
		"known":   func(f depot.BlobFaults) int64 { return f.Known },
		"hash":    func(f depot.BlobFaults) int64 { return f.Hash },
	} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "depot_download_blob_faults_total",
			Help:        "Downloads refused (500) or cut short because the file's blob is missing (missing), of the wrong size (size), recorded damaged (known) or does not hash to its digest (hash).",
			ConstLabels: prometheus.Labels{"reason": reason},
		}, func() float64 { return float64(count(svc.BlobFaults())) }))
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "depot_verify_damaged_blobs",
		Help: "Blobs known damaged now: recorded by verify (on any machine) or found by downloads, and not repaired since.",
	}, func() float64 { return float64(svc.DamagedBlobCount()) }))
}

// verifyMetrics are the continuous verifier's metrics.
type verifyMetrics struct {
	blobs    *prometheus.CounterVec
	bytes    prometheus.Counter
	passes   *prometheus.CounterVec
	lastPass prometheus.Gauge
}

func newVerifyMetrics(reg prometheus.Registerer) *verifyMetrics {
	m := &verifyMetrics{
		blobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "depot_verify_blobs_total",
			Help: "Blobs the continuous verifier checked, by result (intact, missing, truncated, corrupt, unreadable).",
		}, []string{"result"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "depot_verify_bytes_total",
			Help: "Bytes the continuous verifier read and hashed.",
		}),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "depot_verify_passes_total",
			Help: "Passes of the continuous verifier over every blob, by outcome (complete, failed).",
		}, []string{"outcome"}),
		lastPass: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "depot_verify_last_pass_completed_timestamp_seconds",
			Help: "When the continuous verifier last completed a pass over every blob (Unix time); 0 before the first.",
		}),
	}
	for _, r := range []string{"intact", "missing", "truncated", "corrupt", "unreadable"} {
		m.blobs.WithLabelValues(r)
	}
	reg.MustRegister(m.blobs, m.bytes, m.passes, m.lastPass)
	return m
}

// backgroundVerifier is serve's continuous verifier.
type backgroundVerifier struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// verifyPause is the least time between the starts of two passes of the
// continuous verifier.
const verifyPause = time.Minute

// startVerifier runs the verifier over m's stores at c.VerifyRate, one
// blob at a time, recording what it finds (and telling the service at
// once), until stop.
func (m *Main) startVerifier(metrics *verifyMetrics) *backgroundVerifier {
	ctx, cancel := context.WithCancel(context.Background())
	bv := &backgroundVerifier{cancel: cancel}
	svc, log := m.Service, m.Log
	opts := &verify.Options{Workers: 1, Rate: m.Config.VerifyRate, Record: true, OnResult: func(r verify.Result) {
		if r.Err == nil {
			svc.NoteBlobDamage(r.Blob.SHA256, r.Problem)
		}
		if r.Problem != "" {
			log.Error("verify: damaged blob", "sha256", r.Blob.SHA256, "problem", r.Problem, "files", len(r.Files))
		}
		if metrics == nil {
			return
		}
		result := string(r.Problem)
		switch {
		case r.Err != nil:
			result = "unreadable"
		case result == "":
			result = "intact"
		}
		metrics.blobs.WithLabelValues(result).Inc()
		metrics.bytes.Add(float64(r.Read))
	}}
	pause := m.Config.VerifyPause
	if pause <= 0 {
		pause = verifyPause
	}
	v := verify.New(m.Store, m.Blobs, opts)
	bv.wg.Go(func() {
		v.RunEvery(ctx, pause, func(sum verify.Summary, err error) {
			if err != nil && !errors.Is(err, context.Canceled) {
				log.Warn("verify pass stopped", "err", err)
				if metrics != nil {
					metrics.passes.WithLabelValues("failed").Inc()
				}
				return
			}
			log.Info("verify pass", "blobs", sum.Blobs, "bytes", sum.Bytes, "damaged", sum.Damaged(), "unreadable", sum.Unreadable, "seconds", sum.Finished.Sub(sum.Started).Seconds())
			if metrics != nil {
				metrics.passes.WithLabelValues("complete").Inc()
				metrics.lastPass.Set(float64(sum.Finished.UnixNano()) / 1e9)
			}
		})
	})
	return bv
}

func (bv *backgroundVerifier) stop() {
	if bv != nil {
		bv.cancel()
		bv.wg.Wait()
	}
}
