package bpf

// The two objects differ only in their kernel floor: "bpf_loop" (built
// with -DHAVE_BPF_LOOP) needs bpf_loop (5.17 and later) for the long path
// walk, "compat" runs on any kernel this agent supports. The compat
// object shares the first's Go types (-no-global-types) and maps.
// clang and llvm-strip are pinned: the objects in the tree are compared
// byte for byte with what the source compiles to.

//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -target amd64 -type event -type fsa_hook -type fsa_op -type fsa_flags -type config -type fsa_sc -type coalesce_key -type coalesce_val -type exe_key -type compat_kind fsaudit fsaudit.bpf.c -- -I. -O2 -g -Wall -Werror -DHAVE_BPF_LOOP
//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -target amd64 -no-global-types fsauditCompat fsaudit.bpf.c -- -I. -O2 -g -Wall -Werror
