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
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
