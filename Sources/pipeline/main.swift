import ArgumentParser
import Foundation
import MediaIO
import PipelineKit

// Exit status: 0 all done, 1 some items failed (each listed with its reason), 2 bad usage or configuration.
FFmpegLog.install()
do {
    var command = try PipelineCommand.parseAsRoot()
    try command.run()
} catch let e as ExitCode {
    exit(e.rawValue)
} catch let e as ConfigurationError {
    logLine("pipeline: \(e.message)")
    exit(2)
} catch {
    let code = PipelineCommand.exitCode(for: error)
    if code == .success { PipelineCommand.exit(withError: error) }   // --help, --version
    logLine(PipelineCommand.fullMessage(for: error))
    exit(code == .validationFailure || error is ValidationError ? 2 : (code.rawValue == 1 ? 1 : 2))
}
