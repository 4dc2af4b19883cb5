// Command floor attaches an empty BPF program to a tracepoint and holds it
// until SIGINT or SIGTERM: the least any BPF-based agent can cost on that
// hook, for bench/write-overhead to measure against.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
)

func main() {
	tp := "syscalls/sys_enter_write"
	if len(os.Args) > 1 {
		tp = os.Args[1]
	}
	if err := run(tp); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(tp string) error {
	group, name, ok := strings.Cut(tp, "/")
	if !ok {
		return fmt.Errorf("tracepoint %q: want GROUP/NAME", tp)
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return err
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.TracePoint,
		License:      "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	})
	if err != nil {
		return fmt.Errorf("loading the empty program: %w", err)
	}
	defer prog.Close()
	l, err := link.Tracepoint(group, name, prog, nil)
	if err != nil {
		return fmt.Errorf("attaching to %s: %w", tp, err)
	}
	defer l.Close()
	fmt.Println("attached")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	return nil
}
