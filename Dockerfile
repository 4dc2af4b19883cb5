# fsaudit container image. The build stage compiles the BPF objects from
# source (clang, libbpf headers) and the static binary; the image holds the
# binary alone: no shell, no package manager, no libc. The default config is
# built into the binary (it writes /var/log/fsaudit/audit.jsonl); mount one
# at /etc/fsaudit/config.toml to replace it.
#
#   docker build --build-arg VERSION=$(git describe --always) -t fsaudit .
#   docker run --rm --pid=host --network=host --cap-drop=ALL \
#     --cap-add=BPF --cap-add=PERFMON --cap-add=SYS_PTRACE --cap-add=DAC_READ_SEARCH --cap-add=SYS_RESOURCE \
#     --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
#     -v /sys/kernel/btf:/sys/kernel/btf:ro -v /sys/kernel/tracing:/sys/kernel/tracing:ro \
#     -v /sys/fs/cgroup:/sys/fs/cgroup:ro -v /run/containerd:/run/containerd:ro \
#     -v /var/lib/fsaudit:/var/lib/fsaudit -v /var/log/fsaudit:/var/log/fsaudit fsaudit
#
# README.md ("Deploying") explains the flags; deploy/kubernetes/fsaudit.yaml
# runs the image as a DaemonSet.

ARG GO_VERSION=1.26
# bookworm: its clang-14 is the compiler bpf/gen.go names.
ARG DEBIAN_RELEASE=bookworm

FROM golang:${GO_VERSION}-${DEBIAN_RELEASE} AS build
# The compiler of the BPF objects is the one bpf/gen.go names (clang-14,
# bookworm's): CI regenerates the objects with it and compares them byte for
# byte with the committed ones.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends clang-14 llvm-14 libbpf-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Rebuild the BPF objects from source, so the image never carries stale ones.
WORKDIR /src/bpf
RUN go generate ./...
WORKDIR /src
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/fsaudit ./cmd/fsaudit \
 && /out/fsaudit version

FROM scratch
LABEL org.opencontainers.image.title="fsaudit" \
      org.opencontainers.image.description="eBPF file-change audit agent: one structured record per change, to files, syslog or Kafka"
COPY --from=build /out/fsaudit /fsaudit
# The agent runs as root (uid 0) with the capabilities the runtime grants:
# loading BPF programs needs CAP_BPF and CAP_PERFMON, not a user.
EXPOSE 9464
ENTRYPOINT ["/fsaudit"]
CMD ["run"]
