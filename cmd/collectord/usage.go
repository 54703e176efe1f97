package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/licmesh/licmesh/collectors/config"
	"github.com/licmesh/licmesh/collectors/localapi"
	"github.com/licmesh/licmesh/collectors/meter"
	"github.com/licmesh/licmesh/collectors/sources"
	"github.com/licmesh/licmesh/collectors/spool"
)

// openMeter loads the usage sources and the pseudonym key and opens the
// meter, reporting through rep. A bad sources file is an error naming the
// file and every bad source, so that collectord refuses to start rather
// than meter nothing. The caller runs the meter, then closes it and the
// sources (closeSources).
func openMeter(cfg config.Config, rep meter.Reporter, log *slog.Logger) (m *meter.Meter, closeSources func(), err error) {
	u := cfg.Usage
	cfgs, err := sources.LoadFile(u.SourcesFile)
	if err != nil {
		return nil, nil, fmt.Errorf("usage.sources_file %s: %w", u.SourcesFile, err)
	}
	key, err := meter.LoadKey(u.PseudonymKeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("usage.pseudonym_key_file: %w", err)
	}
	jobs, err := sources.Jobs(cfgs, sources.Options{HashKey: key, Logger: log})
	clear(key) // the sources keep their own copies
	if err != nil {
		return nil, nil, fmt.Errorf("usage.sources_file %s: %w", u.SourcesFile, err)
	}
	closeSources = func() {
		for _, j := range jobs {
			j.Source.Close()
		}
	}
	m, err = meter.Open(meterConfig(u), jobs, rep, meter.Options{Logger: log})
	if err != nil {
		closeSources()
		return nil, nil, err
	}
	st := m.Stats()
	log.Info("collectord: usage metering on", "installation", u.Installation, "sources", len(jobs),
		"spool", u.SpoolDir, "spool_epoch", st.Epoch, "spooled", st.Spool.Records)
	return m, closeSources, nil
}

// meterConfig maps the usage section onto the meter's config. Segments are
// a quarter of the spool at most, so that a full spool drops no more than
// that at once.
func meterConfig(u config.Usage) meter.Config {
	c := meter.DefaultConfig()
	c.Installation = u.Installation
	c.SpoolDir = u.SpoolDir
	c.Spool.MaxBytes = int64(u.SpoolMaxMiB) << 20
	c.Spool.SegmentBytes = min(spool.DefaultSegmentBytes, c.Spool.MaxBytes/4)
	c.BatchMaxRecords = u.BatchMaxRecords
	c.SendInterval = u.SendInterval
	return c
}

// usageStatus reports m for the local API's status; nil when metering is
// off.
func usageStatus(m *meter.Meter) func() localapi.UsageStatus {
	if m == nil {
		return nil
	}
	return func() localapi.UsageStatus {
		st := m.Stats()
		u := localapi.UsageStatus{
			Installation: st.Installation, SpoolEpoch: st.Epoch, Pending: st.Spool.Records,
			PendingBytes: st.Spool.Bytes, AckedSeq: st.Spool.AckedSeq, Samples: st.Samples,
			RecordsAcked: st.RecordsAcked, DroppedFull: st.DroppedFull, LastError: st.LastError,
			FailuresInRow: st.FailuresInRow,
		}
		if !st.LastAck.IsZero() {
			u.LastAck = st.LastAck.UTC().Format(time.RFC3339)
		}
		return u
	}
}
