/// Errors thrown by the DSP module.
public enum DSPError: Error, CustomStringConvertible {
    /// A configuration the transforms cannot run with (the message says which field and why), or FFTW refusing
    /// to plan a transform of that size.
    case invalidConfig(String)

    public var description: String {
        switch self {
        case .invalidConfig(let message): return "invalid DSP configuration: \(message)"
        }
    }
}
