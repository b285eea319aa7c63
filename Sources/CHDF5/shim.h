#ifndef CHDF5_SHIM_H
#define CHDF5_SHIM_H
#include <hdf5.h>

/// HDF5's property-list defaults and native types are macros (often over global ids that are only valid after
/// H5open); Swift cannot import them, so each becomes a function.
static inline hid_t chdf5_p_default(void) { return H5P_DEFAULT; }
static inline hid_t chdf5_s_all(void) { return H5S_ALL; }
static inline hid_t chdf5_p_file_create(void) { H5open(); return H5P_FILE_CREATE; }
static inline hid_t chdf5_p_file_access(void) { H5open(); return H5P_FILE_ACCESS; }
static inline hid_t chdf5_p_dataset_create(void) { H5open(); return H5P_DATASET_CREATE; }
static inline hid_t chdf5_p_dataset_access(void) { H5open(); return H5P_DATASET_ACCESS; }
static inline hid_t chdf5_p_attribute_create(void) { H5open(); return H5P_ATTRIBUTE_CREATE; }
static inline hid_t chdf5_native_float(void) { H5open(); return H5T_NATIVE_FLOAT; }
static inline hid_t chdf5_native_double(void) { H5open(); return H5T_NATIVE_DOUBLE; }
static inline hid_t chdf5_native_int8(void) { H5open(); return H5T_NATIVE_INT8; }
static inline hid_t chdf5_native_uint8(void) { H5open(); return H5T_NATIVE_UINT8; }
static inline hid_t chdf5_native_int32(void) { H5open(); return H5T_NATIVE_INT32; }
static inline hid_t chdf5_native_int64(void) { H5open(); return H5T_NATIVE_INT64; }
static inline hid_t chdf5_ieee_f32le(void) { H5open(); return H5T_IEEE_F32LE; }
static inline hid_t chdf5_ieee_f64le(void) { H5open(); return H5T_IEEE_F64LE; }
static inline hid_t chdf5_std_i8le(void) { H5open(); return H5T_STD_I8LE; }
static inline hid_t chdf5_std_u8le(void) { H5open(); return H5T_STD_U8LE; }
static inline hid_t chdf5_std_i32le(void) { H5open(); return H5T_STD_I32LE; }
static inline hid_t chdf5_std_i64le(void) { H5open(); return H5T_STD_I64LE; }
static inline hid_t chdf5_c_s1(void) { H5open(); return H5T_C_S1; }
static inline hsize_t chdf5_unlimited(void) { return H5S_UNLIMITED; }
/// FeatureStore: H5F_ACC_* are comma-expression macros (H5check(), H5open(), flag) that Swift cannot import.
static inline unsigned chdf5_f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned chdf5_f_acc_excl(void) { return H5F_ACC_EXCL; }
/// FeatureStore: H5E_DEFAULT and H5T_VARIABLE are cast macros ((hid_t)0, (size_t)-1); spelled as functions for Swift.
static inline hid_t chdf5_e_default(void) { return H5E_DEFAULT; }
static inline size_t chdf5_t_variable(void) { return H5T_VARIABLE; }
#endif
