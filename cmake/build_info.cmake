# Generates ${MAST_BUILD_INFO_DIR}/mast_build_info.h: the project version, the
# git commit and the configure date, for --version. Only mastd and mastctl
# include it (mast_use_build_info), so a new commit recompiles their mains
# alone. A commit or checkout re-runs the configure step (CMake watches the
# git HEAD and the branch ref), and configure_file rewrites the header only
# when its text changes.
set(MAST_GIT_COMMIT "unknown")
find_package(Git QUIET)
if(GIT_FOUND)
  execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse --short HEAD
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    OUTPUT_VARIABLE mast_git_commit OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE mast_git_result ERROR_QUIET)
  if(mast_git_result EQUAL 0 AND NOT mast_git_commit STREQUAL "")
    set(MAST_GIT_COMMIT ${mast_git_commit})
    execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse --git-path HEAD
      WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
      OUTPUT_VARIABLE ref_path OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    list(APPEND mast_git_watch ${ref_path})
    execute_process(COMMAND ${GIT_EXECUTABLE} symbolic-ref -q HEAD
      WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
      OUTPUT_VARIABLE branch_ref OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(NOT branch_ref STREQUAL "")
      execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse --git-path ${branch_ref}
        WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
        OUTPUT_VARIABLE ref_path OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
      list(APPEND mast_git_watch ${ref_path})
    endif()
    foreach(path ${mast_git_watch})
      if(NOT IS_ABSOLUTE ${path})
        set(path ${PROJECT_SOURCE_DIR}/${path})
      endif()
      if(EXISTS ${path})
        set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${path})
      endif()
    endforeach()
  endif()
endif()
string(TIMESTAMP MAST_BUILD_DATE "%Y-%m-%d" UTC)
set(MAST_BUILD_INFO_DIR ${CMAKE_BINARY_DIR}/generated)
configure_file(${CMAKE_CURRENT_LIST_DIR}/build_info.h.in ${MAST_BUILD_INFO_DIR}/mast_build_info.h @ONLY)

# Gives `target` the generated header (#include "mast_build_info.h").
function(mast_use_build_info target)
  target_include_directories(${target} PRIVATE ${MAST_BUILD_INFO_DIR})
endfunction()
