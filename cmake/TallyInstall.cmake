# Installs the library, its public headers and a CMake package, so a host project can
# `find_package(Tally)` and link `Tally::tally` (see examples/embedded_host).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS tally EXPORT TallyTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/tally DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT TallyTargets NAMESPACE Tally:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Tally)

configure_package_config_file(cmake/TallyConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/TallyConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Tally)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/TallyConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/TallyConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/TallyConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Tally)
