package main

import (
	"github.com/depot-registry/depot/internal/depot"
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
