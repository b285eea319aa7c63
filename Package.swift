// swift-tools-version:5.9
// The MELD feature pipeline: one command from a raw video dataset to cached, trainer-ready features.
import PackageDescription

/// A system library declared by pkg-config, with the Debian package that provides it.
func system(_ name: String, _ pkg: String, _ apt: String) -> Target {
    .systemLibrary(name: name, pkgConfig: pkg, providers: [.apt([apt])])
}

let package = Package(
    name: "MELDPipeline",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "pipeline", targets: ["pipeline"]),
        .library(name: "FeatureStore", targets: ["FeatureStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // C at the edges: one thin module per system library.
        system("CFFmpeg", "libavformat", "libavformat-dev libavcodec-dev libavutil-dev libswresample-dev libswscale-dev"),
        system("CFFTW", "fftw3f", "libfftw3-dev"),
        system("CHDF5", "hdf5", "libhdf5-dev"),
        system("COpenBLAS", "openblas", "libopenblas-dev"),
        system("CSQLite", "sqlite3", "libsqlite3-dev"),
        .target(
            name: "COpenCVShim",
            cxxSettings: [.unsafeFlags(["-I/usr/include/opencv4"])],
            linkerSettings: [
                .linkedLibrary("opencv_core"), .linkedLibrary("opencv_imgproc"),
                .linkedLibrary("opencv_objdetect"), .linkedLibrary("stdc++"),
            ]
        ),
        // AVX2 inner loops of the DSP module, used when the CPU has AVX2 (runtime check).
        .target(name: "CDSPKernels"),
        // Split-bfloat16 products on Intel AMX for the Tensor module's weight products (runtime check).
        .target(name: "CGEMMKernels"),
        // AVX-512 elementwise loops of Tensor and HuBERT (GELU, the folded first conv), bit-identical to the Swift ones.
        .target(name: "CVectorKernels"),

        // Swift modules, one per concern.
        .target(name: "MediaIO", dependencies: ["CFFmpeg"]),
        .target(name: "DSP", dependencies: ["CFFTW", "CDSPKernels"]),
        .target(name: "Tensor", dependencies: ["COpenBLAS", "CGEMMKernels", "CVectorKernels"]),
        .target(name: "Tokenizers"),
        .target(name: "Models", dependencies: ["Tensor", "Tokenizers", "CVectorKernels"]),
        .target(name: "FeatureStore", dependencies: ["CHDF5"]),
        .target(name: "Datasets"),
        .target(
            name: "PipelineKit",
            dependencies: ["CSQLite", "MediaIO", "DSP", "FeatureStore", "Datasets", "Tensor", "Tokenizers", "Models", "COpenCVShim",
                           .product(name: "Yams", package: "Yams")]
        ),
        .executableTarget(
            name: "pipeline",
            dependencies: ["PipelineKit", "MediaIO", "DSP", "COpenCVShim", "COpenBLAS", "Tensor", "Models",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        // Tests: one target per module, plus end-to-end CLI tests.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "MediaIOTests", dependencies: ["MediaIO", "TestSupport"]),
        .testTarget(name: "DSPTests", dependencies: ["DSP", "TestSupport"]),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "TestSupport"]),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers", "Datasets", "TestSupport"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Tensor", "Tokenizers", "TestSupport"]),
        .testTarget(name: "FeatureStoreTests", dependencies: ["FeatureStore", "TestSupport"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "TestSupport"]),
        .testTarget(name: "COpenCVShimTests", dependencies: ["COpenCVShim"]),
        .testTarget(name: "PipelineKitTests", dependencies: ["PipelineKit", "FeatureStore", "Tensor", "TestSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["FeatureStore", "TestSupport"]),
    ]
)
