import CHDF5
import Foundation

/// Where an HDF5 call was made, for the error it may raise: the file and what we were doing.
struct HDF5Site {
    var path: String?
    var context: String

    init(_ path: String?, _ context: String) {
        self.path = path
        self.context = context
    }
}

/// Every raw call FeatureStore makes into libhdf5, one wrapper each, named after the C function it wraps.
///
/// This is the one place to trace, time or fake HDF5 (the swift-system `Syscalls.swift` pattern): the owner
/// types in `Handles.swift` and the public API call these, never the C functions directly.
///
/// Every wrapper
/// - holds ``HDF5Lock`` for the duration of the call (libhdf5 must be called from one thread at a time);
/// - turns HDF5's automatic error printing off for the calling thread first (`H5Eset_auto2`; the setting is
///   per thread in thread-safe builds), so HDF5 never writes to stderr;
/// - on failure (a negative return) walks HDF5's error stack with `H5Ewalk2` while still holding the lock, and
///   throws an ``HDF5Error`` carrying that text, the C function's name, the file and our context.
///
/// The close wrappers (`…Close`) are for `deinit`s: they cannot throw, so a failure is captured and dropped.
enum HDF5Calls {
    typealias ID = hid_t

    // MARK: Checked-call machinery

    /// Runs one raw call under the lock; a negative result becomes an ``HDF5Error`` with HDF5's stack text.
    @discardableResult
    static func check<T: BinaryInteger>(_ function: String, _ site: HDF5Site, _ call: () -> T) throws -> T {
        try HDF5Lock.withLock {
            silenceAutoPrint()
            let result = call()
            if result < 0 {
                throw HDF5Error(function: function, path: site.path, context: site.context, stack: takeErrorStack())
            }
            return result
        }
    }

    /// For `deinit`: runs a close call under the lock and discards any error it raises.
    static func closeQuietly(_ call: () -> herr_t) {
        HDF5Lock.withLock {
            silenceAutoPrint()
            if call() < 0 { _ = takeErrorStack() }
        }
    }

    /// `H5Eset_auto2(H5E_DEFAULT, NULL, NULL)`: no automatic printing of the error stack on this thread.
    private static func silenceAutoPrint() {
        _ = H5Eset_auto2(chdf5_e_default(), nil, nil)
    }

    /// One entry of HDF5's error stack, copied out during `H5Ewalk2` (no API call may run inside the walk).
    private struct Frame {
        var major: hid_t, minor: hid_t, line: UInt32
        var function: String, file: String, description: String
    }

    private final class FrameBox { var frames: [Frame] = [] }

    /// Walks the calling thread's error stack (`H5Ewalk2`, API function first), formats it the way
    /// `H5Eprint2` would, and clears it (`H5Eclear2`). Call with the lock held, right after the failing call.
    private static func takeErrorStack() -> String {
        let box = FrameBox()
        let estack = chdf5_e_default()
        _ = H5Ewalk2(estack, H5E_WALK_DOWNWARD, { _, err, data in
            guard let err, let data else { return 0 }
            let box = Unmanaged<FrameBox>.fromOpaque(data).takeUnretainedValue()
            let e = err.pointee
            box.frames.append(Frame(major: e.maj_num, minor: e.min_num, line: e.line,
                                    function: e.func_name.map { String(cString: $0) } ?? "?",
                                    file: e.file_name.map { String(cString: $0) } ?? "?",
                                    description: e.desc.map { String(cString: $0) } ?? ""))
            return 0
        }, Unmanaged.passUnretained(box).toOpaque())
        var lines: [String] = []
        for (i, f) in box.frames.enumerated() {
            lines.append("#\(String(format: "%03d", i)): \(f.file) line \(f.line) in \(f.function)(): \(f.description)")
            lines.append("    major: \(errorMessage(f.major))")
            lines.append("    minor: \(errorMessage(f.minor))")
        }
        _ = H5Eclear2(estack)
        return lines.joined(separator: "\n")
    }

    /// `H5Eget_msg`: the text of a major or minor error number, e.g. "File accessibility".
    private static func errorMessage(_ id: hid_t) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let n = H5Eget_msg(id, nil, &buffer, buffer.count)
        return n > 0 ? String(cString: buffer) : "?"
    }

    // MARK: Predefined ids and flags (shims in CHDF5/shim.h)

    static var defaultPlist: ID { chdf5_p_default() }
    static var all: ID { chdf5_s_all() }
    static var fileCreateClass: ID { chdf5_p_file_create() }
    static var fileAccessClass: ID { chdf5_p_file_access() }
    static var datasetCreateClass: ID { chdf5_p_dataset_create() }
    static var nativeFloat: ID { chdf5_native_float() }
    static var nativeDouble: ID { chdf5_native_double() }
    static var nativeInt8: ID { chdf5_native_int8() }
    static var nativeUInt8: ID { chdf5_native_uint8() }
    static var nativeInt32: ID { chdf5_native_int32() }
    static var nativeInt64: ID { chdf5_native_int64() }
    static var ieeeF32LE: ID { chdf5_ieee_f32le() }
    static var ieeeF64LE: ID { chdf5_ieee_f64le() }
    static var stdI8LE: ID { chdf5_std_i8le() }
    static var stdU8LE: ID { chdf5_std_u8le() }
    static var stdI32LE: ID { chdf5_std_i32le() }
    static var stdI64LE: ID { chdf5_std_i64le() }
    static var cString: ID { chdf5_c_s1() }

    // MARK: Files (H5F)

    /// `H5Fcreate(path, H5F_ACC_EXCL, fcpl, fapl)`.
    static func fileCreateExclusive(_ path: String, fcpl: ID, fapl: ID, _ site: HDF5Site) throws -> ID {
        try check("H5Fcreate", site) { H5Fcreate(path, chdf5_f_acc_excl(), fcpl, fapl) }
    }

    /// `H5Fopen(path, H5F_ACC_RDONLY, fapl)`.
    static func fileOpenReadOnly(_ path: String, fapl: ID, _ site: HDF5Site) throws -> ID {
        try check("H5Fopen", site) { H5Fopen(path, chdf5_f_acc_rdonly(), fapl) }
    }

    /// `H5Fclose`.
    static func fileClose(_ id: ID, _ site: HDF5Site) throws { try check("H5Fclose", site) { H5Fclose(id) } }
    static func fileCloseQuietly(_ id: ID) { closeQuietly { H5Fclose(id) } }

    /// `H5Fget_obj_count(file, DATASET | GROUP | DATATYPE | ATTR)`: objects still open in the file.
    static func fileOpenObjectCount(_ id: ID, _ site: HDF5Site) throws -> Int {
        let types = UInt32(H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE | H5F_OBJ_ATTR)
        return Int(try check("H5Fget_obj_count", site) { H5Fget_obj_count(id, types) })
    }

    // MARK: Property lists (H5P)

    /// `H5Pcreate`.
    static func plistCreate(_ cls: ID, _ site: HDF5Site) throws -> ID { try check("H5Pcreate", site) { H5Pcreate(cls) } }
    static func plistCloseQuietly(_ id: ID) { closeQuietly { H5Pclose(id) } }

    /// `H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110)`.
    static func setLibverBoundsV110(_ fapl: ID, _ site: HDF5Site) throws {
        try check("H5Pset_libver_bounds", site) { H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110) }
    }

    /// `H5Pset_obj_track_times`.
    static func setObjectTimeTracking(_ plist: ID, _ on: Bool, _ site: HDF5Site) throws {
        try check("H5Pset_obj_track_times", site) { H5Pset_obj_track_times(plist, on) }
    }

    /// `H5Pset_link_creation_order(fcpl, TRACKED | INDEXED)`.
    static func setLinkCreationOrderTracked(_ plist: ID, _ site: HDF5Site) throws {
        let flags = UInt32(H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED)
        try check("H5Pset_link_creation_order", site) { H5Pset_link_creation_order(plist, flags) }
    }

    /// `H5Pset_chunk`.
    static func setChunk(_ dcpl: ID, _ dims: [Int], _ site: HDF5Site) throws {
        let d = dims.map { hsize_t($0) }
        try check("H5Pset_chunk", site) { H5Pset_chunk(dcpl, Int32(d.count), d) }
    }

    /// `H5Pset_fill_value`.
    static func setFillValue(_ dcpl: ID, type: ID, _ value: UnsafeRawPointer, _ site: HDF5Site) throws {
        try check("H5Pset_fill_value", site) { H5Pset_fill_value(dcpl, type, value) }
    }

    /// `H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER)`: data is always written whole, so never pre-fill.
    static func setFillTimeNever(_ dcpl: ID, _ site: HDF5Site) throws {
        try check("H5Pset_fill_time", site) { H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) }
    }

    /// `H5Pset_virtual`: maps the selection of `vspace` to the selection of `srcSpace` in `srcDataset` of
    /// `srcFile` (names are printf-like: a literal `%` must be doubled).
    static func setVirtual(_ dcpl: ID, vspace: ID, srcFile: String, srcDataset: String, srcSpace: ID,
                           _ site: HDF5Site) throws {
        try check("H5Pset_virtual", site) { H5Pset_virtual(dcpl, vspace, srcFile, srcDataset, srcSpace) }
    }

    /// `H5Pget_layout`.
    static func layout(_ dcpl: ID, _ site: HDF5Site) throws -> H5D_layout_t {
        var layout = H5D_LAYOUT_ERROR
        try check("H5Pget_layout", site) { () -> Int32 in
            layout = H5Pget_layout(dcpl)
            return layout.rawValue
        }
        return layout
    }

    /// `H5Pget_virtual_count`.
    static func virtualCount(_ dcpl: ID, _ site: HDF5Site) throws -> Int {
        var n = 0
        try check("H5Pget_virtual_count", site) { H5Pget_virtual_count(dcpl, &n) }
        return n
    }

    /// `H5Pget_virtual_filename` (twice: the length, then the text).
    static func virtualFilename(_ dcpl: ID, _ index: Int, _ site: HDF5Site) throws -> String {
        let n = try check("H5Pget_virtual_filename", site) { H5Pget_virtual_filename(dcpl, index, nil, 0) }
        var buffer = [CChar](repeating: 0, count: n + 1)
        try check("H5Pget_virtual_filename", site) { H5Pget_virtual_filename(dcpl, index, &buffer, n + 1) }
        return String(cString: buffer)
    }

    // MARK: Dataspaces (H5S)

    /// `H5Screate_simple` (current = maximum dimensions).
    static func dataspaceCreateSimple(_ dims: [Int], _ site: HDF5Site) throws -> ID {
        let d = dims.map { hsize_t($0) }
        return try check("H5Screate_simple", site) { H5Screate_simple(Int32(d.count), d, nil) }
    }

    /// `H5Screate(H5S_SCALAR)`.
    static func dataspaceCreateScalar(_ site: HDF5Site) throws -> ID {
        try check("H5Screate", site) { H5Screate(H5S_SCALAR) }
    }

    static func dataspaceCloseQuietly(_ id: ID) { closeQuietly { H5Sclose(id) } }

    /// `H5Sget_simple_extent_type`.
    static func dataspaceClass(_ id: ID, _ site: HDF5Site) throws -> H5S_class_t {
        var cls = H5S_NO_CLASS
        try check("H5Sget_simple_extent_type", site) { () -> Int32 in
            cls = H5Sget_simple_extent_type(id)
            return cls.rawValue
        }
        return cls
    }

    /// `H5Sget_simple_extent_ndims` + `H5Sget_simple_extent_dims`.
    static func dataspaceDims(_ id: ID, _ site: HDF5Site) throws -> [Int] {
        let rank = try check("H5Sget_simple_extent_ndims", site) { H5Sget_simple_extent_ndims(id) }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        if rank > 0 { try check("H5Sget_simple_extent_dims", site) { H5Sget_simple_extent_dims(id, &dims, nil) } }
        return dims.map { Int($0) }
    }

    /// `H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL)`.
    static func selectHyperslab(_ id: ID, start: [Int], count: [Int], _ site: HDF5Site) throws {
        let s = start.map { hsize_t($0) }, c = count.map { hsize_t($0) }
        try check("H5Sselect_hyperslab", site) { H5Sselect_hyperslab(id, H5S_SELECT_SET, s, nil, c, nil) }
    }

    // MARK: Datatypes (H5T)

    /// `H5Tcopy`.
    static func typeCopy(_ id: ID, _ site: HDF5Site) throws -> ID { try check("H5Tcopy", site) { H5Tcopy(id) } }
    static func typeCloseQuietly(_ id: ID) { closeQuietly { H5Tclose(id) } }

    /// `H5Tset_size` (`variable: true` → `H5T_VARIABLE`).
    static func typeSetSize(_ id: ID, _ size: Int, variable: Bool = false, _ site: HDF5Site) throws {
        try check("H5Tset_size", site) { H5Tset_size(id, variable ? chdf5_t_variable() : size) }
    }

    /// `H5Tset_strpad(type, H5T_STR_NULLTERM)`.
    static func typeSetNullTerminated(_ id: ID, _ site: HDF5Site) throws {
        try check("H5Tset_strpad", site) { H5Tset_strpad(id, H5T_STR_NULLTERM) }
    }

    /// `H5Tset_cset(type, H5T_CSET_UTF8)`.
    static func typeSetUTF8(_ id: ID, _ site: HDF5Site) throws {
        try check("H5Tset_cset", site) { H5Tset_cset(id, H5T_CSET_UTF8) }
    }

    /// `H5Tget_cset`.
    static func typeCharacterSet(_ id: ID, _ site: HDF5Site) throws -> H5T_cset_t {
        var cset = H5T_CSET_ERROR
        try check("H5Tget_cset", site) { () -> Int32 in
            cset = H5Tget_cset(id)
            return cset.rawValue
        }
        return cset
    }

    /// `H5Tset_cset` (string types converted only within one character set, so reads copy the file's).
    static func typeSetCharacterSet(_ id: ID, _ cset: H5T_cset_t, _ site: HDF5Site) throws {
        try check("H5Tset_cset", site) { H5Tset_cset(id, cset) }
    }

    /// `H5Tget_class`.
    static func typeClass(_ id: ID, _ site: HDF5Site) throws -> H5T_class_t {
        var cls = H5T_NO_CLASS
        try check("H5Tget_class", site) { () -> Int32 in
            cls = H5Tget_class(id)
            return cls.rawValue
        }
        return cls
    }

    /// `H5Tget_size` (0 means failure).
    static func typeSize(_ id: ID, _ site: HDF5Site) throws -> Int {
        try check("H5Tget_size", site) { () -> Int in
            let n = H5Tget_size(id)
            return n == 0 ? -1 : n
        }
    }

    /// `H5Tget_sign`: true for signed integers.
    static func typeIsSigned(_ id: ID, _ site: HDF5Site) throws -> Bool {
        var sign = H5T_SGN_ERROR
        try check("H5Tget_sign", site) { () -> Int32 in
            sign = H5Tget_sign(id)
            return sign.rawValue
        }
        return sign != H5T_SGN_NONE
    }

    /// `H5Tis_variable_str`.
    static func typeIsVariableString(_ id: ID, _ site: HDF5Site) throws -> Bool {
        try check("H5Tis_variable_str", site) { H5Tis_variable_str(id) } > 0
    }

    // MARK: Datasets (H5D)

    /// `H5Dcreate2(loc, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT)`.
    static func datasetCreate(_ loc: ID, _ name: String, type: ID, space: ID, dcpl: ID, _ site: HDF5Site) throws -> ID {
        try check("H5Dcreate2", site) { H5Dcreate2(loc, name, type, space, chdf5_p_default(), dcpl, chdf5_p_default()) }
    }

    /// `H5Dopen2(loc, name, H5P_DEFAULT)`.
    static func datasetOpen(_ loc: ID, _ name: String, _ site: HDF5Site) throws -> ID {
        try check("H5Dopen2", site) { H5Dopen2(loc, name, chdf5_p_default()) }
    }

    static func datasetCloseQuietly(_ id: ID) { closeQuietly { H5Dclose(id) } }

    /// `H5Dwrite(dataset, memType, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer)`.
    static func datasetWrite(_ id: ID, memType: ID, _ buffer: UnsafeRawPointer, _ site: HDF5Site) throws {
        try check("H5Dwrite", site) { H5Dwrite(id, memType, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), buffer) }
    }

    /// `H5Dread(dataset, memType, memSpace, fileSpace, H5P_DEFAULT, buffer)`.
    static func datasetRead(_ id: ID, memType: ID, memSpace: ID, fileSpace: ID, _ buffer: UnsafeMutableRawPointer,
                            _ site: HDF5Site) throws {
        try check("H5Dread", site) { H5Dread(id, memType, memSpace, fileSpace, chdf5_p_default(), buffer) }
    }

    /// `H5Dget_space`.
    static func datasetSpace(_ id: ID, _ site: HDF5Site) throws -> ID { try check("H5Dget_space", site) { H5Dget_space(id) } }
    /// `H5Dget_type`.
    static func datasetType(_ id: ID, _ site: HDF5Site) throws -> ID { try check("H5Dget_type", site) { H5Dget_type(id) } }
    /// `H5Dget_create_plist`.
    static func datasetCreatePlist(_ id: ID, _ site: HDF5Site) throws -> ID {
        try check("H5Dget_create_plist", site) { H5Dget_create_plist(id) }
    }

    /// `H5Dvlen_reclaim(type, space, H5P_DEFAULT, buffer)`: frees the strings HDF5 allocated for a vlen read.
    static func vlenReclaim(type: ID, space: ID, _ buffer: UnsafeMutableRawPointer, _ site: HDF5Site) throws {
        try check("H5Dvlen_reclaim", site) { H5Dvlen_reclaim(type, space, chdf5_p_default(), buffer) }
    }

    // MARK: Attributes (H5A)

    /// `H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT)`.
    static func attributeCreate(_ loc: ID, _ name: String, type: ID, space: ID, _ site: HDF5Site) throws -> ID {
        try check("H5Acreate2", site) { H5Acreate2(loc, name, type, space, chdf5_p_default(), chdf5_p_default()) }
    }

    /// `H5Aopen(loc, name, H5P_DEFAULT)`.
    static func attributeOpen(_ loc: ID, _ name: String, _ site: HDF5Site) throws -> ID {
        try check("H5Aopen", site) { H5Aopen(loc, name, chdf5_p_default()) }
    }

    /// `H5Aexists`.
    static func attributeExists(_ loc: ID, _ name: String, _ site: HDF5Site) throws -> Bool {
        try check("H5Aexists", site) { H5Aexists(loc, name) } > 0
    }

    /// `H5Aopen_by_idx(loc, ".", H5_INDEX_NAME, H5_ITER_INC, index, H5P_DEFAULT, H5P_DEFAULT)`.
    static func attributeOpenByIndex(_ loc: ID, _ index: Int, _ site: HDF5Site) throws -> ID {
        try check("H5Aopen_by_idx", site) {
            H5Aopen_by_idx(loc, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(index), chdf5_p_default(), chdf5_p_default())
        }
    }

    static func attributeCloseQuietly(_ id: ID) { closeQuietly { H5Aclose(id) } }

    /// `H5Aget_name` (twice: the length, then the text).
    static func attributeName(_ id: ID, _ site: HDF5Site) throws -> String {
        let n = try check("H5Aget_name", site) { H5Aget_name(id, 0, nil) }
        var buffer = [CChar](repeating: 0, count: n + 1)
        try check("H5Aget_name", site) { H5Aget_name(id, n + 1, &buffer) }
        return String(cString: buffer)
    }

    /// `H5Awrite`.
    static func attributeWrite(_ id: ID, memType: ID, _ buffer: UnsafeRawPointer, _ site: HDF5Site) throws {
        try check("H5Awrite", site) { H5Awrite(id, memType, buffer) }
    }

    /// `H5Aread`.
    static func attributeRead(_ id: ID, memType: ID, _ buffer: UnsafeMutableRawPointer, _ site: HDF5Site) throws {
        try check("H5Aread", site) { H5Aread(id, memType, buffer) }
    }

    /// `H5Aget_space`.
    static func attributeSpace(_ id: ID, _ site: HDF5Site) throws -> ID { try check("H5Aget_space", site) { H5Aget_space(id) } }
    /// `H5Aget_type`.
    static func attributeType(_ id: ID, _ site: HDF5Site) throws -> ID { try check("H5Aget_type", site) { H5Aget_type(id) } }

    // MARK: Objects and links (H5O, H5G, H5L)

    /// `H5Oget_info2(loc, &info, H5O_INFO_NUM_ATTRS).num_attrs`.
    static func attributeCount(_ loc: ID, _ site: HDF5Site) throws -> Int {
        var info = H5O_info_t()
        try check("H5Oget_info2", site) { H5Oget_info2(loc, &info, UInt32(H5O_INFO_NUM_ATTRS)) }
        return Int(info.num_attrs)
    }

    /// `H5Gget_info(loc).nlinks`.
    static func linkCount(_ loc: ID, _ site: HDF5Site) throws -> Int {
        var info = H5G_info_t()
        try check("H5Gget_info", site) { H5Gget_info(loc, &info) }
        return Int(info.nlinks)
    }

    /// `H5Lget_name_by_idx(loc, ".", H5_INDEX_CRT_ORDER or H5_INDEX_NAME, H5_ITER_INC, index, …)`.
    static func linkName(_ loc: ID, _ index: Int, creationOrder: Bool, _ site: HDF5Site) throws -> String {
        let order = creationOrder ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME
        let n = try check("H5Lget_name_by_idx", site) {
            H5Lget_name_by_idx(loc, ".", order, H5_ITER_INC, hsize_t(index), nil, 0, chdf5_p_default())
        }
        var buffer = [CChar](repeating: 0, count: n + 1)
        try check("H5Lget_name_by_idx", site) {
            H5Lget_name_by_idx(loc, ".", order, H5_ITER_INC, hsize_t(index), &buffer, n + 1, chdf5_p_default())
        }
        return String(cString: buffer)
    }

    /// `H5Oget_info_by_name2(loc, name, &info, H5O_INFO_BASIC, H5P_DEFAULT).type == H5O_TYPE_DATASET`.
    static func isDataset(_ loc: ID, _ name: String, _ site: HDF5Site) throws -> Bool {
        var info = H5O_info_t()
        try check("H5Oget_info_by_name2", site) {
            H5Oget_info_by_name2(loc, name, &info, UInt32(H5O_INFO_BASIC), chdf5_p_default())
        }
        return info.type == H5O_TYPE_DATASET
    }
}
