# kiva_add_queries(TARGET QUERIES FILE SCHEMA FILE... [NAMESPACE NS] [DEPENDS FILE...])
#
# An application's typed queries: kiva-querygen prepares every query of FILE against a
# throwaway PostgreSQL cluster holding the framework's schema then SCHEMA (create.sql and the
# migrations), and writes generated/queries.hpp into TARGET's build directory: the rows, the
# class NS::Queries and NS::Context (the framework's Context with `c.q`). A query that does
# not fit the schema fails the build with its file:line. NS defaults to `app`. SCHEMA files are
# loaded in order (a create.sql that includes the migrations is enough); DEPENDS names more
# files whose change must run the check again (the migrations that create.sql includes).
#
# Needs KIVA_QUERYGEN (the generator), KIVA_QUERYGEN_SH (its driver), KIVA_SQL_DIR (the
# framework's queries and migrations): the kiva package, or the framework's own CMakeLists,
# sets them.
function(kiva_add_queries target)
  cmake_parse_arguments(ARG "" "QUERIES;NAMESPACE" "SCHEMA;DEPENDS" ${ARGN})
  if(NOT ARG_QUERIES OR NOT ARG_SCHEMA)
    message(FATAL_ERROR "kiva_add_queries(${target} QUERIES FILE SCHEMA FILE...)")
  endif()
  if(NOT ARG_NAMESPACE)
    set(ARG_NAMESPACE app)
  endif()
  get_filename_component(queries "${ARG_QUERIES}" ABSOLUTE)
  set(schema)
  foreach(f ${ARG_SCHEMA})
    get_filename_component(f "${f}" ABSOLUTE)
    list(APPEND schema "${f}")
  endforeach()
  set(depends)
  foreach(f ${ARG_DEPENDS})
    get_filename_component(f "${f}" ABSOLUTE)
    list(APPEND depends "${f}")
  endforeach()
  file(GLOB framework_migrations "${KIVA_SQL_DIR}/migrations/*.sql")
  list(SORT framework_migrations)
  set(dir "${CMAKE_CURRENT_BINARY_DIR}/${target}-generated")
  set(out "${dir}/generated/queries.hpp")
  add_custom_command(
    OUTPUT "${out}"
    COMMAND "${KIVA_QUERYGEN_SH}" "${KIVA_QUERYGEN}" "${out}" "${queries}"
            ${framework_migrations} ${schema}
            -- --after "${KIVA_SQL_DIR}/queries.sql" --namespace "${ARG_NAMESPACE}" --context
    DEPENDS "${KIVA_QUERYGEN_SH}" ${KIVA_QUERYGEN_DEPENDS} "${queries}" ${schema} ${depends}
            "${KIVA_SQL_DIR}/queries.sql" ${framework_migrations}
    WORKING_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}"
    COMMENT "Checking ${ARG_QUERIES} against the schema and generating the typed queries"
    VERBATIM)
  add_custom_target(${target}_queries DEPENDS "${out}")
  add_dependencies(${target} ${target}_queries)
  target_include_directories(${target} PUBLIC "${dir}")
endfunction()
