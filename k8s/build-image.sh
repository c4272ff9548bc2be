#!/usr/bin/env bash
# Builds Tessera's container image (k8s/Dockerfile) without a Docker daemon, exports it as an OCI
# archive, runs the quick-start job inside it and reports its size.
#
#   k8s/build-image.sh [--test] [--tag IMAGE] [--base IMAGE] [--arch LEVEL] [--out DIR] [--rebuild-base]
#
# buildah (chroot isolation, vfs storage: works as root in a plain VM or container, no daemon,
# no overlay or user namespaces needed) keeps its store under OUT (default build/image). No
# registry is needed: the Debian base is made locally with debootstrap from the Debian mirror
# (--base uses an image already in that store instead, e.g. one pulled with skopeo).
# --test also runs tests/integration/k8s/simulate_mpijob.py on the image's root filesystem
# (ctest -L image). Ends with 'k8s: N passed, M failed'; exits non-zero on any failure.
# Debian packages: buildah debootstrap (podman skopeo umoci are optional helpers).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="$(sed -n 's/^project(tessera VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")"
tag="localhost/tessera:${version}"
base="localhost/debian:bookworm-slim"
make_base=1
arch="x86-64-v3"
out="$root/build/image"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
test=0 rebuild_base=0
while [ $# -gt 0 ]; do
  case "$1" in
    --test) test=1 ;;
    --tag) tag="$2"; shift ;;
    --base) base="$2"; make_base=0; shift ;;
    --arch) arch="$2"; shift ;;
    --out) out="$2"; shift ;;
    --rebuild-base) rebuild_base=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "build-image: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

passed=0 failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
finish() { echo "k8s: $passed passed, $failed failed"; [ "$failed" -eq 0 ]; }

need=(buildah tar)
[ "$make_base" -eq 1 ] && need+=(debootstrap)
missing=()
for t in "${need[@]}"; do command -v "$t" >/dev/null || missing+=("$t"); done
if [ ${#missing[@]} -gt 0 ]; then
  fail "missing tools: ${missing[*]} (Debian: apt-get install buildah debootstrap)"
  finish; exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  fail "build-image.sh runs buildah with vfs storage as root"
  finish; exit 1
fi

mkdir -p "$out"
b=(buildah --root "$out/storage" --runroot "$out/runroot" --storage-driver vfs)
work="$(mktemp -d "$out/work.XXXXXX")"
containers=()
# Containers, mounts and scratch files go also when a step fails or the script is interrupted.
cleanup() {
  for c in "${containers[@]}"; do "${b[@]}" umount "$c" >/dev/null 2>&1 || true; "${b[@]}" rm "$c" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
t0=$SECONDS
step() { echo "== $* ($((SECONDS - t0)) s)"; }

# ---- 1. The base image: Debian bookworm minbase from debootstrap (no registry here).
if [ "$make_base" -eq 1 ] && { [ "$rebuild_base" -eq 1 ] || ! "${b[@]}" inspect --type image "$base" >/dev/null 2>&1; }; then
  step "debootstrap bookworm from $mirror"
  rootfs="$work/rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log"; fail "debootstrap"; finish; exit 1; }
  cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
  # Like Debian's official slim images: no caches, no docs or man pages, no translations.
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
EOF
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/usr/share/doc/*/[!c]* \
         "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/var/log/*.log
  tar -C "$rootfs" --numeric-owner -cf "$work/base.tar" .
  rm -rf "$rootfs"
  ctr="$("${b[@]}" from scratch)"; containers+=("$ctr")
  "${b[@]}" add "$ctr" "$work/base.tar" / >/dev/null
  "${b[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd /bin/bash \
    --label org.opencontainers.image.description="Debian 12 minbase (debootstrap)" "$ctr"
  "${b[@]}" commit --rm "$ctr" "$base" >/dev/null; containers=()
  rm -f "$work/base.tar"
fi
if "${b[@]}" inspect --type image "$base" >/dev/null 2>&1; then
  pass "base image $base"
else
  fail "base image $base is not in $out/storage"; finish; exit 1
fi

# ---- 2. The image, from a context holding only what the Dockerfile copies.
step "buildah bud $tag (FROM $base, -march=$arch)"
ctx="$work/context"
mkdir -p "$ctx"
cp -a "$root/CMakeLists.txt" "$root/cmake" "$root/src" "$root/k8s" "$ctx/"
if "${b[@]}" bud --isolation chroot --layers --pull=never -f "$ctx/k8s/Dockerfile" \
     --build-arg BASE_IMAGE="$base" --build-arg TESSERA_ARCH="$arch" -t "$tag" "$ctx" >"$out/build.log" 2>&1; then
  pass "build $tag ($((SECONDS - t0)) s; log: $out/build.log)"
else
  tail -30 "$out/build.log"; fail "build (log: $out/build.log)"; finish; exit 1
fi

# ---- 3. OCI archive and sizes.
archive="$out/tessera-${version}.oci.tar"
rm -f "$archive"
if "${b[@]}" push "$tag" "oci-archive:$archive:$tag" >/dev/null 2>&1; then
  size="$("${b[@]}" images --format '{{.Size}}' "$tag" | head -1)"
  pass "exported $archive ($(du -h "$archive" | cut -f1) archive; image $size uncompressed)"
else
  fail "export to $archive"
fi

# ---- 4. The quick-start job inside the image, as its non-root user, against the host's result.
step "smoke job in the image"
smoke="$work/smoke"
mkdir -p "$smoke/jobs" "$smoke/data" "$smoke/out"
cp "$root/jobs/tas-stats.yaml" "$smoke/jobs/job.yaml"
chown -R 1000:1000 "$smoke/data" "$smoke/out"
gen="$(sed -n 's/^# generate: data\///p' "$root/jobs/tas-stats.yaml")"
ctr="$("${b[@]}" from --pull=never "$tag")"; containers+=("$ctr")
if "${b[@]}" run --isolation chroot --user 1000:1000 \
     -v "$smoke/jobs:/tessera/jobs:ro" -v "$smoke/data:/tessera/data" -v "$smoke/out:/tessera/out" "$ctr" -- \
     sh -c "tessera generate /tessera/data/$gen >/dev/null \
            && env OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_vader_single_copy_mechanism=none \
               HDF5_USE_FILE_LOCKING=FALSE mpirun -n 2 --oversubscribe tessera run /tessera/jobs/job.yaml --expect-ranks 2" \
     >"$work/smoke.log" 2>&1 && [ -s "$smoke/out/tas-stats.nc" ]; then
  # The same job with the image's binary straight on the host: the image must not change results.
  mkdir -p "$smoke/direct/jobs" "$smoke/direct/out"
  cp "$root/jobs/tas-stats.yaml" "$smoke/direct/jobs/job.yaml"
  ln -s "$smoke/data" "$smoke/direct/data"
  mnt="$("${b[@]}" mount "$ctr")"
  if OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_pml=ob1 mpirun -n 2 --oversubscribe \
       "$mnt/usr/local/bin/tessera" run "$smoke/direct/jobs/job.yaml" --quiet >"$work/direct.log" 2>&1 \
     && (cd "$root/tests/integration/k8s" && /usr/bin/python3 -c '
import sys, simulate_mpijob as s
d, n = s.compare_netcdf(sys.argv[1], sys.argv[2])
print("differences:", d) if d else print(f"{n} variables identical")
sys.exit(1 if d else 0)' "$smoke/out/tas-stats.nc" "$smoke/direct/out/tas-stats.nc"); then
    pass "smoke job in the image as uid 1000: output equals the host run"
  else
    cat "$work/direct.log"; fail "smoke job output differs from the host run"
  fi
else
  cat "$work/smoke.log"; fail "smoke job in the image"
fi

# ---- 5. The MPIJob launch simulation with the image as every pod's root filesystem.
if [ "$test" -eq 1 ]; then
  step "MPIJob simulation on the image's root filesystem"
  sim="$("${b[@]}" from --pull=never "$tag")"; containers+=("$sim")
  rootfs="$("${b[@]}" mount "$sim")"
  if (cd "$root/tests/integration/k8s" && TESSERA_BIN="${TESSERA_BIN:-$root/build/src/tessera}" \
        /usr/bin/python3 simulate_mpijob.py --rootfs "$rootfs"); then
    pass "MPIJob simulation inside the image"
  else
    fail "MPIJob simulation inside the image"
  fi
fi
step "done"
finish
