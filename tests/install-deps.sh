#!/usr/bin/env bash
# Installs Tessera's build, run and test dependencies from Debian 12 packages (idempotent:
# does nothing when everything is present). Needs root or sudo for apt-get.
set -euo pipefail

packages=(
  cmake make g++ pkg-config
  openmpi-bin libopenmpi-dev                 # MPI
  libhdf5-openmpi-dev libnetcdf-mpi-dev       # parallel HDF5 and NetCDF-C
  libblosc-dev libbz2-dev libxml2-dev         # named by netCDF's CMake target, not pulled in by it
  libtrilinos-kokkos-dev libyaml-cpp-dev libboost-program-options-dev nlohmann-json3-dev
  libgtest-dev
  clang libclang-rt-14-dev                    # libFuzzer + sanitizer runtimes (tests/fuzz)
  cdo nco netcdf-bin hdf5-tools               # oracles for the tests
  python3 python3-numpy python3-netcdf4 python3-xarray python3-yaml
  openssh-server openssh-client iproute2 util-linux python3-jsonschema   # MPIJob launch simulation
  slurm-wlm munge python3-matplotlib          # the private Slurm test cluster, scaling plots
  libcurl4-openssl-dev zlib1g-dev libzstd-dev # object storage (HTTP/S3) and Zarr codecs (+ libblosc-dev above)
  nginx python3-zarr                          # remote tests: HTTP server, Zarr stores (s3rver: below)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "install-deps: done"
fi

# The S3 test server (npm @20minutes/s3rver@4), cached outside the repository; the remote tests
# skip their S3 part when it cannot be installed (no npm registry).
s3rver_dir="${TESSERA_S3RVER_DIR:-$HOME/.cache/tessera/s3rver}"
if [ ! -d "$s3rver_dir/node_modules/@20minutes/s3rver" ]; then
  if ! command -v npm >/dev/null; then
    $sudo apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null 2>&1 || true
  fi
  if command -v npm >/dev/null; then
    mkdir -p "$s3rver_dir"
    npm install --silent --no-audit --no-fund --prefix "$s3rver_dir" @20minutes/s3rver@4 >/dev/null 2>&1 \
      && echo "install-deps: s3rver in $s3rver_dir" || echo "install-deps: could not install s3rver (S3 tests will be skipped)"
  fi
fi
