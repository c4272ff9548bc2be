# Test registration helpers: one place decides how tests are launched.
include_guard(GLOBAL)

# Open MPI as root and with more ranks than cores (tests go up to 4 ranks on 2 cores).
set(TESSERA_MPI_TEST_ENV
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader,tcp
  HDF5_USE_FILE_LOCKING=FALSE)

# tessera_add_unit_test(NAME SOURCES a.cpp b.cpp LIBS lib...)
function(tessera_add_unit_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main tessera_warnings)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS unit ENVIRONMENT "${TESSERA_MPI_TEST_ENV}")
endfunction()

# tessera_add_mpi_test(NAME SOURCES ... LIBS ... RANKS 1 2 3 4)
# Builds one executable with the MPI-aware GoogleTest main and registers it once per rank count.
function(tessera_add_mpi_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;RANKS" ${ARGN})
  if(NOT T_RANKS)
    set(T_RANKS 1 2 3 4)
  endif()
  add_executable(${name} ${T_SOURCES} ${PROJECT_SOURCE_DIR}/tests/mpi/mpi_test_main.cpp)
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest tessera_warnings)
  foreach(n IN LISTS T_RANKS)
    add_test(NAME ${name}.np${n}
      COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${n} ${MPIEXEC_PREFLAGS}
              $<TARGET_FILE:${name}> ${MPIEXEC_POSTFLAGS})
    set_tests_properties(${name}.np${n} PROPERTIES PROCESSORS ${n} LABELS mpi
      ENVIRONMENT "${TESSERA_MPI_TEST_ENV}" TIMEOUT 300)
  endforeach()
endfunction()

# tessera_add_script_test(NAME COMMAND ... [LABELS ...] [RANKS ...])
# A shell/Python test; with RANKS it is registered once per rank count and gets TESSERA_RANKS.
function(tessera_add_script_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "COMMAND;LABELS;RANKS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  set(env ${TESSERA_MPI_TEST_ENV}
      TESSERA_BIN=$<TARGET_FILE:tessera> TESSERA_SOURCE_DIR=${PROJECT_SOURCE_DIR}
      TESSERA_BUILD_DIR=${PROJECT_BINARY_DIR} MPIEXEC=${MPIEXEC_EXECUTABLE})
  if(T_RANKS)
    foreach(n IN LISTS T_RANKS)
      add_test(NAME ${name}.np${n} COMMAND ${T_COMMAND})
      set_tests_properties(${name}.np${n} PROPERTIES PROCESSORS ${n} LABELS "${T_LABELS}"
        ENVIRONMENT "${env};TESSERA_RANKS=${n}" TIMEOUT ${T_TIMEOUT})
    endforeach()
  else()
    add_test(NAME ${name} COMMAND ${T_COMMAND})
    set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}" ENVIRONMENT "${env}" TIMEOUT ${T_TIMEOUT})
  endif()
endfunction()
