package main

import (
	"crypto/rand"
	"fmt"
	"os"

	"github.com/fsaudit/fsaudit/chain"
	"github.com/fsaudit/fsaudit/internal/private"
)

// openSealKey opens [chain] seal_key_file for the rounds of a run: read
// and write (each round overwrites it), checked as every key file is.
func openSealKey(path string) (*chain.SealKey, error) {
	f, err := private.Open(path, "chain seal_key_file", os.O_RDWR)
	if err != nil {
		return nil, err
	}
	k, err := chain.OpenSealKey(f, path)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("chain seal_key_file: %w", err)
	}
	return k, nil
}

// lockSealKey is openSealKey for the run that seals with it: the file is
// its alone while it runs.
func lockSealKey(path string) (*chain.SealKey, error) {
	k, err := openSealKey(path)
	if err != nil {
		return nil, err
	}
	if err := k.Lock(); err != nil {
		k.Close()
		return nil, fmt.Errorf("chain seal_key_file: %w", err)
	}
	return k, nil
}

// newInstance names one run of the agent in its chains' start seals: 128
// random bits in UUID layout.
func newInstance() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
