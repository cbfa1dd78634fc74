import Foundation
import PackagePlugin

/// Generates the build's version, git commit and compiler version for the `BuildInfo` target on every build.
///
/// A prebuild command, because the commit changes without any source file changing; the script it runs rewrites its
/// output only when the content differs, so an unchanged tree recompiles nothing. It needs no executable built from
/// source (only `/bin/sh`, `git` and `swiftc`), so a plain `swift build` on a clean clone works.
@main
struct BuildInfoPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appending(path: "generated")
        let package = context.package.directoryURL
        // The compiler building this package; PATH inside a prebuild command need not contain it.
        let swiftc = (try? context.tool(named: "swiftc").url.path()) ?? "swiftc"
        return [
            .prebuildCommand(
                displayName: "Generating discovery-bridge build info",
                executable: URL(filePath: "/bin/sh"),
                arguments: [package.appending(path: "scripts/build-info.sh").path(), package.path(), output.path(), swiftc],
                // Commands do not inherit the build's environment; this override is passed on by name.
                environment: ProcessInfo.processInfo.environment.filter { $0.key == "DISCOVERY_BRIDGE_COMMIT" },
                outputFilesDirectory: output
            ),
        ]
    }
}
