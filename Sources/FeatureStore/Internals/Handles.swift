import CHDF5
import Foundation

// One owner type per kind of HDF5 id, each closed in `deinit` with the call that matches how it was made
// (H5Fclose, H5Dclose, H5Sclose, H5Tclose, H5Pclose, H5Aclose). Predefined ids (H5T_NATIVE_FLOAT, H5P_DEFAULT)
// are never wrapped: closing them is an error. Every call goes through `HDF5Calls`, so through `HDF5Lock`.

/// An open HDF5 file (`H5Fcreate`/`H5Fopen` … `H5Fclose`).
final class HDF5File {
    let id: hid_t
    let path: String
    private var isClosed = false

    private init(id: hid_t, path: String) {
        self.id = id
        self.path = path
    }

    /// Creates a new file for the writers: fails if `path` exists; format bounds pinned to v1.10
    /// (`H5Pset_libver_bounds(V110, V110)`), no object time stamps on the root group, link creation order
    /// tracked so datasets list in the order they were written.
    static func createForWriting(_ path: String) throws -> HDF5File {
        let site = HDF5Site(path, "creating the file")
        let fcpl = try HDF5PropertyList(HDF5Calls.fileCreateClass, site)
        try HDF5Calls.setObjectTimeTracking(fcpl.id, false, site)
        try HDF5Calls.setLinkCreationOrderTracked(fcpl.id, site)
        let fapl = try HDF5PropertyList(HDF5Calls.fileAccessClass, site)
        try HDF5Calls.setLibverBoundsV110(fapl.id, site)
        return HDF5File(id: try HDF5Calls.fileCreateExclusive(path, fcpl: fcpl.id, fapl: fapl.id, site), path: path)
    }

    /// Opens an existing file read-only.
    static func openReadOnly(_ path: String) throws -> HDF5File {
        let site = HDF5Site(path, "opening the file read-only")
        return HDF5File(id: try HDF5Calls.fileOpenReadOnly(path, fapl: HDF5Calls.defaultPlist, site), path: path)
    }

    /// Closes the file and reports failure (`H5Fclose`). Refuses while datasets or attributes are still open,
    /// because HDF5 would then keep the file open and unflushed behind a successful-looking close.
    func close() throws {
        guard !isClosed else { return }
        let site = HDF5Site(path, "closing the file")
        let open = try HDF5Calls.fileOpenObjectCount(id, site)
        if open > 0 {
            throw FeatureStoreError(path: path, message: "internal error: \(open) HDF5 objects still open at close")
        }
        isClosed = true
        try HDF5Calls.fileClose(id, site)
    }

    deinit {
        if !isClosed { HDF5Calls.fileCloseQuietly(id) }
    }
}

/// A property list we created (`H5Pcreate` or `H5Dget_create_plist` … `H5Pclose`).
final class HDF5PropertyList {
    let id: hid_t
    init(_ cls: hid_t, _ site: HDF5Site) throws { id = try HDF5Calls.plistCreate(cls, site) }
    init(owning id: hid_t) { self.id = id }
    deinit { HDF5Calls.plistCloseQuietly(id) }
}

/// A dataspace (`H5Screate*`, `H5Dget_space`, `H5Aget_space` … `H5Sclose`).
final class HDF5Dataspace {
    let id: hid_t
    init(owning id: hid_t) { self.id = id }

    /// A simple dataspace with these dimensions (fixed: maximum = current).
    convenience init(dims: [Int], _ site: HDF5Site) throws {
        self.init(owning: try HDF5Calls.dataspaceCreateSimple(dims, site))
    }

    /// A scalar dataspace (one element, rank 0).
    static func scalar(_ site: HDF5Site) throws -> HDF5Dataspace {
        HDF5Dataspace(owning: try HDF5Calls.dataspaceCreateScalar(site))
    }

    deinit { HDF5Calls.dataspaceCloseQuietly(id) }
}

/// A datatype we own (`H5Tcopy`, `H5Dget_type`, `H5Aget_type` … `H5Tclose`).
final class HDF5Datatype {
    let id: hid_t
    init(owning id: hid_t) { self.id = id }

    /// A fixed-length, NUL-terminated UTF-8 string type of `size` bytes (including the NUL).
    static func fixedString(size: Int, _ site: HDF5Site) throws -> HDF5Datatype {
        let t = HDF5Datatype(owning: try HDF5Calls.typeCopy(HDF5Calls.cString, site))
        try HDF5Calls.typeSetSize(t.id, size, site)
        try HDF5Calls.typeSetNullTerminated(t.id, site)
        try HDF5Calls.typeSetUTF8(t.id, site)
        return t
    }

    /// A variable-length, NUL-terminated UTF-8 string type (`char *` in memory).
    static func variableString(_ site: HDF5Site) throws -> HDF5Datatype {
        let t = HDF5Datatype(owning: try HDF5Calls.typeCopy(HDF5Calls.cString, site))
        try HDF5Calls.typeSetSize(t.id, 0, variable: true, site)
        try HDF5Calls.typeSetNullTerminated(t.id, site)
        try HDF5Calls.typeSetUTF8(t.id, site)
        return t
    }

    deinit { HDF5Calls.typeCloseQuietly(id) }
}

/// An open dataset (`H5Dcreate2`/`H5Dopen2` … `H5Dclose`).
final class HDF5Dataset {
    let id: hid_t
    let name: String
    init(owning id: hid_t, name: String) {
        self.id = id
        self.name = name
    }
    deinit { HDF5Calls.datasetCloseQuietly(id) }
}

/// An open attribute (`H5Acreate2`/`H5Aopen*` … `H5Aclose`).
final class HDF5Attribute {
    let id: hid_t
    init(owning id: hid_t) { self.id = id }
    deinit { HDF5Calls.attributeCloseQuietly(id) }
}
