# weft_bpf_object(<name> <source.bpf.c>)
#
# Compiles one BPF program with clang for the BPF target (CO-RE, BTF) and
# generates its libbpf skeleton with `bpftool gen skeleton`. Yields an
# interface target <name>_skel whose include path holds <name>.skel.h.
# Everything generated lands in the build tree.
#
# vmlinux.h comes from the running kernel's BTF (/sys/kernel/btf/vmlinux).
# On a build host without BTF, point WEFT_VMLINUX_BTF at a BTF file (for
# example one from the target kernel's /sys/kernel/btf/vmlinux), or
# WEFT_VMLINUX_H at a ready vmlinux.h.

find_program(BPF_CLANG NAMES clang clang-14 REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)

set(WEFT_VMLINUX_BTF "/sys/kernel/btf/vmlinux" CACHE FILEPATH
    "BTF file vmlinux.h is generated from")
set(WEFT_VMLINUX_H "" CACHE FILEPATH
    "A ready vmlinux.h to use instead of generating one")

option(WEFT_BPF_STAGE_PROFILE
  "Time the stages of a traced socket event in the BPF programs (bench/capture/stage_profile.py)" OFF)
set(WEFT_BPF_CAPTURE_FLOOR "0" CACHE STRING
  "Measurement builds only (bench/capture/capture_floor.py): 2 or 1 reduces every captured \
event to a copy and a ring record, on both directions (2) or reads only (1); 0 is weft")
set_property(CACHE WEFT_BPF_CAPTURE_FLOOR PROPERTY STRINGS 0 1 2)
if(NOT WEFT_BPF_CAPTURE_FLOOR MATCHES "^[012]$")
  message(FATAL_ERROR "WEFT_BPF_CAPTURE_FLOOR must be 0, 1 or 2, not '${WEFT_BPF_CAPTURE_FLOOR}'")
endif()

set(WEFT_BPF_GEN_DIR ${CMAKE_BINARY_DIR}/bpf-gen)
file(MAKE_DIRECTORY ${WEFT_BPF_GEN_DIR})

if(WEFT_VMLINUX_H)
  configure_file(${WEFT_VMLINUX_H} ${WEFT_BPF_GEN_DIR}/vmlinux.h COPYONLY)
  add_custom_target(weft_vmlinux_h)
else()
  if(NOT EXISTS ${WEFT_VMLINUX_BTF})
    message(FATAL_ERROR
      "No kernel BTF at ${WEFT_VMLINUX_BTF}. Build on a kernel with "
      "CONFIG_DEBUG_INFO_BTF=y, or pass -DWEFT_VMLINUX_BTF=<btf file> or "
      "-DWEFT_VMLINUX_H=<vmlinux.h>.")
  endif()
  add_custom_command(
    OUTPUT ${WEFT_BPF_GEN_DIR}/vmlinux.h
    COMMAND ${BPFTOOL} btf dump file ${WEFT_VMLINUX_BTF} format c
            > ${WEFT_BPF_GEN_DIR}/vmlinux.h.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${WEFT_BPF_GEN_DIR}/vmlinux.h.tmp
            ${WEFT_BPF_GEN_DIR}/vmlinux.h
    COMMENT "Generating vmlinux.h from ${WEFT_VMLINUX_BTF}"
    VERBATIM)
  add_custom_target(weft_vmlinux_h DEPENDS ${WEFT_BPF_GEN_DIR}/vmlinux.h)
endif()

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(WEFT_BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(WEFT_BPF_ARCH arm64)
else()
  message(FATAL_ERROR "weft: unsupported architecture ${CMAKE_SYSTEM_PROCESSOR}")
endif()

function(weft_bpf_object name source)
  set(obj ${WEFT_BPF_GEN_DIR}/${name}.bpf.o)
  set(skel ${WEFT_BPF_GEN_DIR}/${name}.skel.h)
  get_filename_component(src_abs ${source} ABSOLUTE)
  get_filename_component(src_dir ${src_abs} DIRECTORY)
  file(GLOB bpf_headers CONFIGURE_DEPENDS ${src_dir}/*.h)
  set(profile_define "")
  if(WEFT_BPF_STAGE_PROFILE)
    list(APPEND profile_define -DWEFT_BPF_STAGE_PROFILE)
  endif()
  if(NOT WEFT_BPF_CAPTURE_FLOOR STREQUAL "0")
    list(APPEND profile_define -DWEFT_BPF_CAPTURE_FLOOR=${WEFT_BPF_CAPTURE_FLOOR})
  endif()
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${BPF_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_${WEFT_BPF_ARCH} ${profile_define}
            -Wall -Werror -Wno-unused-function -Wno-gnu-variable-sized-type-not-at-end
            -I${WEFT_BPF_GEN_DIR} -I${src_dir} -I${CMAKE_SOURCE_DIR}
            -c ${src_abs} -o ${obj}
    DEPENDS ${src_abs} ${bpf_headers} weft_vmlinux_h ${WEFT_BPF_GEN_DIR}/vmlinux.h
    COMMENT "BPF ${name}.bpf.c"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${skel}.tmp ${skel}
    DEPENDS ${obj}
    COMMENT "Skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS ${skel})
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${WEFT_BPF_GEN_DIR})
  target_link_libraries(${name}_skel INTERFACE PkgConfig::LIBBPF PkgConfig::LIBELF ZLIB::ZLIB)
endfunction()
