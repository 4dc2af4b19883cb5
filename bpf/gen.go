package bpf

//go:generate go tool bpf2go -target amd64 -type event -type config -type fsa_sc -type coalesce_key -type coalesce_val -type exe_key -type compat_kind fsaudit fsaudit.bpf.c -- -I. -O2 -g -Wall -Werror -DHAVE_BPF_LOOP
//go:generate go tool bpf2go -target amd64 -type event -type config -type fsa_sc -type coalesce_key -type coalesce_val -type exe_key -type compat_kind fsauditCompat fsaudit.bpf.c -- -I. -O2 -g -Wall -Werror
