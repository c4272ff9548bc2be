/* What reading a page-cached file costs through pread (the kernel copies into a buffer, as HDF5
 * does for Tessera's tiles) versus mmap (the process maps the cached pages and reads them in
 * place), for one rank's half of a file, in pieces of PIECE MiB, each piece touched once by a
 * cheap vectorised pass (an OR over 32-bit words). Prints the process CPU seconds.
 *
 *   gcc -O2 -march=native -o /tmp/mmap_vs_pread benchmarks/mmap_vs_pread.c
 *   /tmp/mmap_vs_pread FILE MODE [PIECE_MIB]   # MODE 0 pread, 1 mmap+MAP_POPULATE,
 *                                              #      2 mmap (faults), 3 mmap+MADV_WILLNEED
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double cpu_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s FILE MODE [PIECE_MIB]\n", argv[0]);
    return 2;
  }
  const int mode = atoi(argv[2]);
  const size_t piece = (size_t)(argc > 3 ? atoi(argv[3]) : 8) << 20;
  const int fd = open(argv[1], O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    perror(argv[1]);
    return 1;
  }
  const size_t n = (size_t)st.st_size / 2 / piece * piece;
  uint32_t* buf = aligned_alloc(4096, piece);
  uint64_t acc = 0;
  const double t0 = cpu_seconds();
  for (size_t off = 0; off < n; off += piece) {
    const uint32_t* p = buf;
    void* m = NULL;
    if (mode == 0) {
      if (pread(fd, buf, piece, (off_t)off) != (ssize_t)piece) return 1;
    } else {
      m = mmap(NULL, piece, PROT_READ, MAP_PRIVATE | (mode == 1 ? MAP_POPULATE : 0), fd, (off_t)off);
      if (m == MAP_FAILED) return 1;
      if (mode == 3) madvise(m, piece, MADV_WILLNEED);
      p = m;
    }
    uint32_t x = 0;
    for (size_t i = 0; i < piece / 4; ++i) x |= p[i];
    acc += x;
    if (m) munmap(m, piece);
  }
  printf("mode %d: %.3f CPU s for %zu MiB (%llu)\n", mode, cpu_seconds() - t0, n >> 20, (unsigned long long)acc);
  return 0;
}
