package main

import (
	"errors"
	"os"
	"runtime/pprof"
)

// profiler records a CPU profile of a measurement window, the allocation
// profile at its start and end (compare them with pprof's -base), and the
// goroutines at its end.
type profiler struct {
	prefix string
	cpu    *os.File
}

// startProfile starts profiling into files named prefix.*; it does nothing
// and returns nil when prefix is empty.
func startProfile(prefix string) *profiler {
	if prefix == "" {
		return nil
	}
	p := &profiler{prefix: prefix}
	_ = writeProfile("allocs", prefix+".allocs.base.pb.gz")
	if f, err := os.Create(prefix + ".cpu.pb.gz"); err == nil {
		if pprof.StartCPUProfile(f) == nil {
			p.cpu = f
		} else {
			f.Close()
		}
	}
	return p
}

func (p *profiler) stop() error {
	if p == nil {
		return nil
	}
	var err error
	if p.cpu != nil {
		pprof.StopCPUProfile()
		err = p.cpu.Close()
	}
	return errors.Join(err, writeProfile("allocs", p.prefix+".allocs.pb.gz"),
		writeProfile("goroutine", p.prefix+".goroutine.pb.gz"))
}

func writeProfile(name, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	return errors.Join(pprof.Lookup(name).WriteTo(f, 0), f.Close())
}
