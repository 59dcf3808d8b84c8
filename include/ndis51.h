/*
 * dmalab's NDIS 5.1 miniport interface, included by ndis.h: the structures, macros, constants
 * and routines of an NDIS 5.x connectionless miniport that dmalab implements (a driver that
 * registers with NdisMRegisterMiniport runs under NDIS 5.1's driver model).
 *
 * Written by the dmalab authors from Microsoft's NDIS 5.1 reference (learn.microsoft.com,
 * "previous-versions/windows/hardware/network": the NDIS_PACKET, NDIS_MINIPORT_CHARACTERISTICS
 * and NdisXxx pages); not derived from the WDK's or any other headers. Structures have their
 * documented 32-bit layouts; dmalab's tests compile this file against the layouts the emulator
 * writes. Where the DDK implements a routine as a macro over NDIS's private fields
 * (NdisQueryPacket, NdisGetNextBuffer, ...), dmalab implements it as the routine, so NDIS's
 * checks run; the documented OOB-data macros work on the descriptor's memory, as on Windows.
 */
#ifndef DMALAB_NDIS51_H
#define DMALAB_NDIS51_H

#ifndef DMALAB_NDIS_H
#error "include <ndis.h>, which includes this file"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Status values NDIS 5 adds ("NDIS_STATUS values") ---------------------------------------- */
#define NDIS_STATUS_NOT_ACCEPTED ((NDIS_STATUS)0x00010003L)
#define NDIS_STATUS_RESET_START ((NDIS_STATUS)0x40010004L)
#define NDIS_STATUS_RESET_END ((NDIS_STATUS)0x40010005L)
#define NDIS_STATUS_OPEN_FAILED ((NDIS_STATUS)0xC0010007L)
#define NDIS_STATUS_DEVICE_FAILED ((NDIS_STATUS)0xC0010008L)
#define NDIS_STATUS_MULTICAST_FULL ((NDIS_STATUS)0xC0010009L)
#define NDIS_STATUS_REQUEST_ABORTED ((NDIS_STATUS)0xC001000CL)
#define NDIS_STATUS_RESET_IN_PROGRESS ((NDIS_STATUS)0xC001000DL)
#define NDIS_STATUS_INVALID_PACKET ((NDIS_STATUS)0xC001000FL)
#define NDIS_STATUS_ADAPTER_NOT_READY ((NDIS_STATUS)0xC0010011L)
#define NDIS_STATUS_INVALID_DATA ((NDIS_STATUS)0xC0010015L)
#define NDIS_STATUS_UNSUPPORTED_MEDIA ((NDIS_STATUS)0xC0010019L)
#define NDIS_STATUS_RESOURCE_CONFLICT ((NDIS_STATUS)0xC001001EL)

/* ---- NdisMSetAttributesEx AttributeFlags ("NdisMSetAttributesEx") ----------------------------- */
#define NDIS_ATTRIBUTE_IGNORE_PACKET_TIMEOUT 0x00000001
#define NDIS_ATTRIBUTE_IGNORE_REQUEST_TIMEOUT 0x00000002
#define NDIS_ATTRIBUTE_IGNORE_TOKEN_RING_ERRORS 0x00000004
#define NDIS_ATTRIBUTE_BUS_MASTER 0x00000008
#define NDIS_ATTRIBUTE_INTERMEDIATE_DRIVER 0x00000010
#define NDIS_ATTRIBUTE_DESERIALIZE 0x00000020
#define NDIS_ATTRIBUTE_NO_HALT_ON_SUSPEND 0x00000040
#define NDIS_ATTRIBUTE_SURPRISE_REMOVE_OK 0x00000080
#define NDIS_ATTRIBUTE_NOT_CO_NDIS 0x00000100
#define NDIS_ATTRIBUTE_USES_SAFE_BUFFER_APIS 0x00000200

/* ---- NdisMAllocateMapRegisters DmaSize ------------------------------------------------------- */
typedef UCHAR NDIS_DMA_SIZE;
#define NDIS_DMA_24BITS ((NDIS_DMA_SIZE)0)
#define NDIS_DMA_32BITS ((NDIS_DMA_SIZE)1)
#define NDIS_DMA_64BITS ((NDIS_DMA_SIZE)2)

/* ---- Configuration ("NdisReadConfiguration", "NDIS_CONFIGURATION_PARAMETER structure") -------- */
typedef UNICODE_STRING NDIS_STRING, *PNDIS_STRING;
#define NDIS_STRING_CONST(x) { sizeof(L##x) - 2, sizeof(L##x), L##x }
typedef enum _NDIS_PARAMETER_TYPE {
    NdisParameterInteger = 0,
    NdisParameterHexInteger = 1,
    NdisParameterString = 2,
    NdisParameterMultiString = 3,
    NdisParameterBinary = 4
} NDIS_PARAMETER_TYPE, *PNDIS_PARAMETER_TYPE;
typedef struct _BINARY_DATA {
    USHORT Length;
    PVOID Buffer;
} BINARY_DATA;
typedef struct _NDIS_CONFIGURATION_PARAMETER {
    NDIS_PARAMETER_TYPE ParameterType;
    union {
        ULONG IntegerData;
        NDIS_STRING StringData;
        BINARY_DATA BinaryData;
    } ParameterData;
} NDIS_CONFIGURATION_PARAMETER, *PNDIS_CONFIGURATION_PARAMETER;

/* NdisMQueryAdapterResources fills a CM_PARTIAL_RESOURCE_LIST. */
typedef CM_PARTIAL_RESOURCE_LIST NDIS_RESOURCE_LIST, *PNDIS_RESOURCE_LIST;

/* ---- Interrupt modes and PnP events ---------------------------------------------------------- */
typedef enum _NDIS_INTERRUPT_MODE { NdisInterruptLevelSensitive = 0, NdisInterruptLatched = 1 } NDIS_INTERRUPT_MODE, *PNDIS_INTERRUPT_MODE;
typedef enum _NDIS_DEVICE_PNP_EVENT {
    NdisDevicePnPEventQueryRemoved = 0,
    NdisDevicePnPEventRemoved = 1,
    NdisDevicePnPEventSurpriseRemoved = 2,
    NdisDevicePnPEventQueryStopped = 3,
    NdisDevicePnPEventStopped = 4,
    NdisDevicePnPEventPowerProfileChanged = 5,
    NdisDevicePnPEventMaximum
} NDIS_DEVICE_PNP_EVENT, *PNDIS_DEVICE_PNP_EVENT;
#define NdisPowerProfileBattery 0
#define NdisPowerProfileAcOnLine 1

/* ---- OIDs and OID values an NDIS 5 Ethernet miniport answers (ntddndis.h's, beside ndis.h's) --- */
#define OID_GEN_TRANSMIT_BLOCK_SIZE 0x0001010A
#define OID_GEN_RECEIVE_BLOCK_SIZE 0x0001010B
#define OID_GEN_PHYSICAL_MEDIUM 0x00010202
#define OID_802_3_RCV_ERROR_ALIGNMENT 0x01020101
#define OID_802_3_XMIT_ONE_COLLISION 0x01020102
#define OID_802_3_XMIT_MORE_COLLISIONS 0x01020103
#define OID_PNP_CAPABILITIES 0xFD010100
#define NDIS_MAC_OPTION_RECEIVE_SERIALIZED 0x00000002
#define NDIS_MAC_OPTION_FULL_DUPLEX 0x00000010
#define NDIS_MAC_OPTION_EOTX_INDICATION 0x00000020
#define NDIS_MAC_OPTION_8021P_PRIORITY 0x00000040
typedef enum _NDIS_HARDWARE_STATUS {
    NdisHardwareStatusReady = 0,
    NdisHardwareStatusInitializing = 1,
    NdisHardwareStatusReset = 2,
    NdisHardwareStatusClosing = 3,
    NdisHardwareStatusNotReady = 4
} NDIS_HARDWARE_STATUS, *PNDIS_HARDWARE_STATUS;
typedef enum _NDIS_MEDIA_STATE { NdisMediaStateConnected = 0, NdisMediaStateDisconnected = 1 } NDIS_MEDIA_STATE, *PNDIS_MEDIA_STATE;


/* ---- Buffers and packets ("NDIS_PACKET structure", "NDIS_PACKET_OOB_DATA structure") ---------- */
/* On Windows NT-based systems an NDIS_BUFFER is an MDL. */
typedef MDL NDIS_BUFFER, *PNDIS_BUFFER;

typedef struct _NDIS_PACKET_PRIVATE {
    UINT PhysicalCount;
    UINT TotalLength;
    PNDIS_BUFFER Head;
    PNDIS_BUFFER Tail;
    NDIS_HANDLE Pool;
    UINT Count;
    ULONG Flags;
    BOOLEAN ValidCounts;
    UCHAR NdisPacketFlags;
    USHORT NdisPacketOobOffset;
} NDIS_PACKET_PRIVATE, *PNDIS_PACKET_PRIVATE;

typedef struct _NDIS_PACKET {
    NDIS_PACKET_PRIVATE Private;
    union {
        struct {
            UCHAR MiniportReserved[2 * sizeof(PVOID)];
            UCHAR WrapperReserved[2 * sizeof(PVOID)];
        };
        struct {
            UCHAR MiniportReservedEx[3 * sizeof(PVOID)];
            UCHAR WrapperReservedEx[sizeof(PVOID)];
        };
        struct {
            UCHAR MacReserved[4 * sizeof(PVOID)];
        };
    };
    ULONG_PTR Reserved[2];
    UCHAR ProtocolReserved[1];
} NDIS_PACKET, *PNDIS_PACKET, **PPNDIS_PACKET;

typedef struct _NDIS_PACKET_OOB_DATA {
    union {
        ULONGLONG TimeToSend;
        ULONGLONG TimeSent;
    };
    ULONGLONG TimeReceived;
    UINT HeaderSize;
    UINT SizeMediaSpecificInfo;
    PVOID MediaSpecificInformation;
    NDIS_STATUS Status;
} NDIS_PACKET_OOB_DATA, *PNDIS_PACKET_OOB_DATA;

typedef enum _NDIS_PER_PACKET_INFO {
    TcpIpChecksumPacketInfo = 0,
    IpSecPacketInfo = 1,
    TcpLargeSendPacketInfo = 2,
    ClassificationHandlePacketInfo = 3,
    NdisReserved = 4,
    ScatterGatherListPacketInfo = 5,
    Ieee8021QInfo = 6,
    OriginalPacketInfo = 7,
    PacketCancelId = 8,
    MaxPerPacketInfo = 9
} NDIS_PER_PACKET_INFO, *PNDIS_PER_PACKET_INFO;

typedef struct _NDIS_PACKET_EXTENSION {
    PVOID NdisPacketInfo[MaxPerPacketInfo];
} NDIS_PACKET_EXTENSION, *PNDIS_PACKET_EXTENSION;

/* The documented accessors of the OOB block and the packet extension that follow a descriptor. */
#define NDIS_OOB_DATA_FROM_PACKET(_P) ((PNDIS_PACKET_OOB_DATA)((PUCHAR)(_P) + (_P)->Private.NdisPacketOobOffset))
#define NDIS_GET_PACKET_STATUS(_P) (NDIS_OOB_DATA_FROM_PACKET(_P)->Status)
#define NDIS_SET_PACKET_STATUS(_P, _Status) (NDIS_OOB_DATA_FROM_PACKET(_P)->Status = (_Status))
#define NDIS_GET_PACKET_HEADER_SIZE(_P) (NDIS_OOB_DATA_FROM_PACKET(_P)->HeaderSize)
#define NDIS_SET_PACKET_HEADER_SIZE(_P, _Size) (NDIS_OOB_DATA_FROM_PACKET(_P)->HeaderSize = (_Size))
#define NDIS_GET_PACKET_TIME_RECEIVED(_P) (NDIS_OOB_DATA_FROM_PACKET(_P)->TimeReceived)
#define NDIS_PACKET_EXTENSION_FROM_PACKET(_P) \
    ((PNDIS_PACKET_EXTENSION)((PUCHAR)(_P) + (_P)->Private.NdisPacketOobOffset + sizeof(NDIS_PACKET_OOB_DATA)))
#define NDIS_PER_PACKET_INFO_FROM_PACKET(_P, _Id) (NDIS_PACKET_EXTENSION_FROM_PACKET(_P)->NdisPacketInfo[(_Id)])
#define NDIS_GET_PACKET_CANCEL_ID(_P) NDIS_PER_PACKET_INFO_FROM_PACKET(_P, PacketCancelId)
#define NDIS_SET_PACKET_CANCEL_ID(_P, _Id) (NDIS_PER_PACKET_INFO_FROM_PACKET(_P, PacketCancelId) = (_Id))
#define NDIS_GET_ORIGINAL_PACKET(_P) NDIS_PER_PACKET_INFO_FROM_PACKET(_P, OriginalPacketInfo)

/* NDIS_PHYSICAL_ADDRESS_UNIT ("NdisMStartBufferPhysicalMapping"). */
typedef struct _NDIS_PHYSICAL_ADDRESS_UNIT {
    NDIS_PHYSICAL_ADDRESS PhysicalAddress;
    UINT Length;
} NDIS_PHYSICAL_ADDRESS_UNIT, *PNDIS_PHYSICAL_ADDRESS_UNIT;
#define NdisGetPhysicalAddressLow(_Pa) ((_Pa).LowPart)
#define NdisGetPhysicalAddressHigh(_Pa) ((_Pa).HighPart)
#define NdisSetPhysicalAddressLow(_Pa, _Low) ((_Pa).LowPart = (_Low))
#define NdisSetPhysicalAddressHigh(_Pa, _High) ((_Pa).HighPart = (_High))

/*
 * NDIS_MINIPORT_INTERRUPT and NDIS_MINIPORT_TIMER: the driver provides the storage (in its
 * adapter context), NDIS owns the contents ("NdisMRegisterInterrupt", "NdisMInitializeTimer").
 * dmalab keeps its state elsewhere and finds it by the structure's address.
 */
typedef struct _NDIS_MINIPORT_INTERRUPT { PVOID Reserved[16]; } NDIS_MINIPORT_INTERRUPT, *PNDIS_MINIPORT_INTERRUPT;
typedef struct _NDIS_MINIPORT_TIMER { PVOID Reserved[16]; } NDIS_MINIPORT_TIMER, *PNDIS_MINIPORT_TIMER;
typedef NDIS_MINIPORT_TIMER NDIS_TIMER, *PNDIS_TIMER;
typedef void NDIS_TIMER_FUNCTION(PVOID SystemSpecific1, PVOID FunctionContext, PVOID SystemSpecific2, PVOID SystemSpecific3);
typedef NDIS_TIMER_FUNCTION *PNDIS_TIMER_FUNCTION;

/* ---- The MiniportXxx functions of NDIS 5.1 ("NDIS_MINIPORT_CHARACTERISTICS structure") -------- */
typedef BOOLEAN (*W_CHECK_FOR_HANG_HANDLER)(NDIS_HANDLE MiniportAdapterContext);
typedef void (*W_DISABLE_INTERRUPT_HANDLER)(NDIS_HANDLE MiniportAdapterContext);
typedef void (*W_ENABLE_INTERRUPT_HANDLER)(NDIS_HANDLE MiniportAdapterContext);
typedef void (*W_HALT_HANDLER)(NDIS_HANDLE MiniportAdapterContext);
typedef void (*W_HANDLE_INTERRUPT_HANDLER)(NDIS_HANDLE MiniportAdapterContext);
typedef NDIS_STATUS (*W_INITIALIZE_HANDLER)(PNDIS_STATUS OpenErrorStatus, PUINT SelectedMediumIndex, PNDIS_MEDIUM MediumArray, UINT MediumArraySize,
                                            NDIS_HANDLE MiniportAdapterHandle, NDIS_HANDLE WrapperConfigurationContext);
typedef void (*W_ISR_HANDLER)(PBOOLEAN InterruptRecognized, PBOOLEAN QueueMiniportHandleInterrupt, NDIS_HANDLE MiniportAdapterContext);
typedef NDIS_STATUS (*W_QUERY_INFORMATION_HANDLER)(NDIS_HANDLE MiniportAdapterContext, NDIS_OID Oid, PVOID InformationBuffer,
                                                   ULONG InformationBufferLength, PULONG BytesWritten, PULONG BytesNeeded);
typedef NDIS_STATUS (*W_RECONFIGURE_HANDLER)(PNDIS_STATUS OpenErrorStatus, NDIS_HANDLE MiniportAdapterContext, NDIS_HANDLE WrapperConfigurationContext);
typedef NDIS_STATUS (*W_RESET_HANDLER)(PBOOLEAN AddressingReset, NDIS_HANDLE MiniportAdapterContext);
typedef NDIS_STATUS (*W_SEND_HANDLER)(NDIS_HANDLE MiniportAdapterContext, PNDIS_PACKET Packet, UINT Flags);
typedef NDIS_STATUS (*W_SET_INFORMATION_HANDLER)(NDIS_HANDLE MiniportAdapterContext, NDIS_OID Oid, PVOID InformationBuffer,
                                                 ULONG InformationBufferLength, PULONG BytesRead, PULONG BytesNeeded);
typedef NDIS_STATUS (*W_TRANSFER_DATA_HANDLER)(PNDIS_PACKET Packet, PUINT BytesTransferred, NDIS_HANDLE MiniportAdapterContext,
                                               NDIS_HANDLE MiniportReceiveContext, UINT ByteOffset, UINT BytesToTransfer);
typedef void (*W_RETURN_PACKET_HANDLER)(NDIS_HANDLE MiniportAdapterContext, PNDIS_PACKET Packet);
typedef void (*W_SEND_PACKETS_HANDLER)(NDIS_HANDLE MiniportAdapterContext, PPNDIS_PACKET PacketArray, UINT NumberOfPackets);
typedef void (*W_ALLOCATE_COMPLETE_HANDLER)(NDIS_HANDLE MiniportAdapterContext, PVOID VirtualAddress, PNDIS_PHYSICAL_ADDRESS PhysicalAddress,
                                            ULONG Length, PVOID Context);
typedef void (*W_CANCEL_SEND_PACKETS_HANDLER)(NDIS_HANDLE MiniportAdapterContext, PVOID CancelId);
typedef void (*W_PNP_EVENT_NOTIFY_HANDLER)(NDIS_HANDLE MiniportAdapterContext, NDIS_DEVICE_PNP_EVENT DevicePnPEvent, PVOID InformationBuffer,
                                           ULONG InformationBufferLength);
typedef void (*W_MINIPORT_SHUTDOWN_HANDLER)(PVOID ShutdownContext);
typedef W_MINIPORT_SHUTDOWN_HANDLER ADAPTER_SHUTDOWN_HANDLER;
typedef void (*PDRIVER_UNLOAD)(PDRIVER_OBJECT DriverObject);

/* NDIS51_MINIPORT_CHARACTERISTICS; NDIS50_ ends at CoRequestHandler. The connection-oriented
   handlers are for CoNDIS miniports, which dmalab does not run: leave them NULL. */
typedef struct _NDIS51_MINIPORT_CHARACTERISTICS {
    UCHAR MajorNdisVersion;
    UCHAR MinorNdisVersion;
    USHORT Filler;
    UINT Reserved;
    W_CHECK_FOR_HANG_HANDLER CheckForHangHandler;
    W_DISABLE_INTERRUPT_HANDLER DisableInterruptHandler;
    W_ENABLE_INTERRUPT_HANDLER EnableInterruptHandler;
    W_HALT_HANDLER HaltHandler;
    W_HANDLE_INTERRUPT_HANDLER HandleInterruptHandler;
    W_INITIALIZE_HANDLER InitializeHandler;
    W_ISR_HANDLER ISRHandler;
    W_QUERY_INFORMATION_HANDLER QueryInformationHandler;
    W_RECONFIGURE_HANDLER ReconfigureHandler;
    W_RESET_HANDLER ResetHandler;
    W_SEND_HANDLER SendHandler;
    W_SET_INFORMATION_HANDLER SetInformationHandler;
    W_TRANSFER_DATA_HANDLER TransferDataHandler;
    W_RETURN_PACKET_HANDLER ReturnPacketHandler;
    W_SEND_PACKETS_HANDLER SendPacketsHandler;
    W_ALLOCATE_COMPLETE_HANDLER AllocateCompleteHandler;
    PVOID CoCreateVcHandler;
    PVOID CoDeleteVcHandler;
    PVOID CoActivateVcHandler;
    PVOID CoDeactivateVcHandler;
    PVOID CoSendPacketsHandler;
    PVOID CoRequestHandler;
    W_CANCEL_SEND_PACKETS_HANDLER CancelSendPacketsHandler;
    W_PNP_EVENT_NOTIFY_HANDLER PnPEventNotifyHandler;
    W_MINIPORT_SHUTDOWN_HANDLER AdapterShutdownHandler;
    PVOID Reserved1;
    PVOID Reserved2;
    PVOID Reserved3;
    PVOID Reserved4;
} NDIS51_MINIPORT_CHARACTERISTICS, NDIS_MINIPORT_CHARACTERISTICS, *PNDIS_MINIPORT_CHARACTERISTICS;
#define NDIS50_MINIPORT_CHARACTERISTICS_SIZE FIELD_OFFSET(NDIS51_MINIPORT_CHARACTERISTICS, CancelSendPacketsHandler)

/* ---- Routines dmalab implements for NDIS 5.1 miniports ------------------------------------------ */
/* Registration and initialization. */
void NdisMInitializeWrapper(PNDIS_HANDLE NdisWrapperHandle, PVOID SystemSpecific1, PVOID SystemSpecific2, PVOID SystemSpecific3);
NDIS_STATUS NdisMRegisterMiniport(NDIS_HANDLE NdisWrapperHandle, PNDIS_MINIPORT_CHARACTERISTICS MiniportCharacteristics, UINT CharacteristicsLength);
void NdisTerminateWrapper(NDIS_HANDLE NdisWrapperHandle, PVOID SystemSpecific);
void NdisMRegisterUnloadHandler(NDIS_HANDLE NdisWrapperHandle, PDRIVER_UNLOAD UnloadHandler);
void NdisMRegisterAdapterShutdownHandler(NDIS_HANDLE MiniportHandle, PVOID ShutdownContext, ADAPTER_SHUTDOWN_HANDLER ShutdownHandler);
void NdisMDeregisterAdapterShutdownHandler(NDIS_HANDLE MiniportHandle);
void NdisMSetAttributes(NDIS_HANDLE MiniportAdapterHandle, NDIS_HANDLE MiniportAdapterContext, BOOLEAN BusMaster, NDIS_INTERFACE_TYPE AdapterType);
void NdisMSetAttributesEx(NDIS_HANDLE MiniportAdapterHandle, NDIS_HANDLE MiniportAdapterContext, UINT CheckForHangTimeInSeconds,
                          ULONG AttributeFlags, NDIS_INTERFACE_TYPE AdapterType);
void NdisOpenConfiguration(PNDIS_STATUS Status, PNDIS_HANDLE ConfigurationHandle, NDIS_HANDLE WrapperConfigurationContext);
void NdisReadConfiguration(PNDIS_STATUS Status, PNDIS_CONFIGURATION_PARAMETER *ParameterValue, NDIS_HANDLE ConfigurationHandle,
                           PNDIS_STRING Keyword, NDIS_PARAMETER_TYPE ParameterType);
void NdisCloseConfiguration(NDIS_HANDLE ConfigurationHandle);
void NdisReadNetworkAddress(PNDIS_STATUS Status, PVOID *NetworkAddress, PUINT NetworkAddressLength, NDIS_HANDLE ConfigurationHandle);
void NdisMQueryAdapterResources(PNDIS_STATUS Status, NDIS_HANDLE WrapperConfigurationContext, PNDIS_RESOURCE_LIST ResourceList, PUINT BufferSize);
ULONG NdisReadPciSlotInformation(NDIS_HANDLE NdisAdapterHandle, ULONG SlotNumber, ULONG Offset, PVOID Buffer, ULONG Length);
ULONG NdisWritePciSlotInformation(NDIS_HANDLE NdisAdapterHandle, ULONG SlotNumber, ULONG Offset, PVOID Buffer, ULONG Length);
NDIS_STATUS NdisMRegisterIoPortRange(PVOID *PortOffset, NDIS_HANDLE MiniportAdapterHandle, UINT InitialPort, UINT NumberOfPorts);
void NdisMDeregisterIoPortRange(NDIS_HANDLE MiniportAdapterHandle, UINT InitialPort, UINT NumberOfPorts, PVOID PortOffset);
void NdisRawReadPortUlong(ULONG_PTR Port, PULONG Data);
void NdisRawWritePortUlong(ULONG_PTR Port, ULONG Data);

/* DMA: map registers, or scatter/gather. */
NDIS_STATUS NdisMAllocateMapRegisters(NDIS_HANDLE MiniportAdapterHandle, UINT DmaChannel, NDIS_DMA_SIZE DmaSize, ULONG BaseMapRegistersNeeded,
                                      ULONG MaximumPhysicalMapping);
void NdisMStartBufferPhysicalMapping(NDIS_HANDLE MiniportAdapterHandle, PNDIS_BUFFER Buffer, ULONG PhysicalMapRegister, BOOLEAN WriteToDevice,
                                     PNDIS_PHYSICAL_ADDRESS_UNIT PhysicalAddressArray, PUINT ArraySize);
void NdisMCompleteBufferPhysicalMapping(NDIS_HANDLE MiniportAdapterHandle, PNDIS_BUFFER Buffer, ULONG PhysicalMapRegister);
void NdisMFreeMapRegisters(NDIS_HANDLE MiniportAdapterHandle);
NDIS_STATUS NdisMInitializeScatterGatherDma(NDIS_HANDLE MiniportAdapterHandle, BOOLEAN Dma64BitAddresses, ULONG MaximumPhysicalMapping);
NDIS_STATUS NdisMAllocateSharedMemoryAsync(NDIS_HANDLE MiniportAdapterHandle, ULONG Length, BOOLEAN Cached, PVOID Context);

/* Packet and buffer descriptors. */
void NdisAllocatePacketPool(PNDIS_STATUS Status, PNDIS_HANDLE PoolHandle, UINT NumberOfDescriptors, UINT ProtocolReservedLength);
void NdisAllocatePacketPoolEx(PNDIS_STATUS Status, PNDIS_HANDLE PoolHandle, UINT NumberOfDescriptors, UINT NumberOfOverflowDescriptors,
                              UINT ProtocolReservedLength);
void NdisFreePacketPool(NDIS_HANDLE PoolHandle);
UINT NdisPacketPoolUsage(NDIS_HANDLE PoolHandle);
void NdisAllocatePacket(PNDIS_STATUS Status, PNDIS_PACKET *Packet, NDIS_HANDLE PoolHandle);
void NdisDprAllocatePacket(PNDIS_STATUS Status, PNDIS_PACKET *Packet, NDIS_HANDLE PoolHandle);
void NdisFreePacket(PNDIS_PACKET Packet);
void NdisDprFreePacket(PNDIS_PACKET Packet);
void NdisReinitializePacket(PNDIS_PACKET Packet);
void NdisChainBufferAtFront(PNDIS_PACKET Packet, PNDIS_BUFFER Buffer);
void NdisChainBufferAtBack(PNDIS_PACKET Packet, PNDIS_BUFFER Buffer);
void NdisUnchainBufferAtFront(PNDIS_PACKET Packet, PNDIS_BUFFER *Buffer);
void NdisUnchainBufferAtBack(PNDIS_PACKET Packet, PNDIS_BUFFER *Buffer);
void NdisQueryPacket(PNDIS_PACKET Packet, PUINT PhysicalBufferCount, PUINT BufferCount, PNDIS_BUFFER *FirstBuffer, PUINT TotalPacketLength);
void NdisQueryPacketLength(PNDIS_PACKET Packet, PUINT TotalPacketLength);
void NdisRecalculatePacketCounts(PNDIS_PACKET Packet);
void NdisGetFirstBufferFromPacketSafe(PNDIS_PACKET Packet, PNDIS_BUFFER *FirstBuffer, PVOID *FirstBufferVA, PUINT FirstBufferLength,
                                      PUINT TotalBufferLength, MM_PAGE_PRIORITY Priority);
void NdisAllocateBufferPool(PNDIS_STATUS Status, PNDIS_HANDLE PoolHandle, UINT NumberOfDescriptors);
void NdisFreeBufferPool(NDIS_HANDLE PoolHandle);
void NdisAllocateBuffer(PNDIS_STATUS Status, PNDIS_BUFFER *Buffer, NDIS_HANDLE PoolHandle, PVOID VirtualAddress, UINT Length);
void NdisFreeBuffer(PNDIS_BUFFER Buffer);
void NdisQueryBuffer(PNDIS_BUFFER Buffer, PVOID *VirtualAddress, PUINT Length);
void NdisQueryBufferSafe(PNDIS_BUFFER Buffer, PVOID *VirtualAddress, PUINT Length, MM_PAGE_PRIORITY Priority);
void NdisQueryBufferOffset(PNDIS_BUFFER Buffer, PUINT Offset, PUINT Length);
void NdisGetNextBuffer(PNDIS_BUFFER CurrentBuffer, PNDIS_BUFFER *NextBuffer);
ULONG NdisBufferLength(PNDIS_BUFFER Buffer);
PVOID NdisBufferVirtualAddressSafe(PNDIS_BUFFER Buffer, MM_PAGE_PRIORITY Priority);
void NdisAdjustBufferLength(PNDIS_BUFFER Buffer, UINT Length);
void NdisGetBufferPhysicalArraySize(PNDIS_BUFFER Buffer, PUINT ArraySize);
UCHAR NdisGeneratePartialCancelId(void);

/* Sends and receives. */
void NdisMSendComplete(NDIS_HANDLE MiniportAdapterHandle, PNDIS_PACKET Packet, NDIS_STATUS Status);
void NdisMSendResourcesAvailable(NDIS_HANDLE MiniportAdapterHandle);
void NdisMEthIndicateReceive(NDIS_HANDLE MiniportAdapterHandle, NDIS_HANDLE MiniportReceiveContext, PVOID HeaderBuffer, UINT HeaderBufferSize,
                             PVOID LookaheadBuffer, UINT LookaheadBufferSize, UINT PacketSize);
void NdisMEthIndicateReceiveComplete(NDIS_HANDLE MiniportAdapterHandle);
void NdisMTransferDataComplete(NDIS_HANDLE MiniportAdapterHandle, PNDIS_PACKET Packet, NDIS_STATUS Status, UINT BytesTransferred);
void NdisMIndicateReceivePacket(NDIS_HANDLE MiniportAdapterHandle, PPNDIS_PACKET ReceivePackets, UINT NumberOfPackets);

/* Interrupts and timers. */
NDIS_STATUS NdisMRegisterInterrupt(PNDIS_MINIPORT_INTERRUPT Interrupt, NDIS_HANDLE MiniportAdapterHandle, UINT InterruptVector, UINT InterruptLevel,
                                   BOOLEAN RequestIsr, BOOLEAN SharedInterrupt, NDIS_INTERRUPT_MODE InterruptMode);
void NdisMDeregisterInterrupt(PNDIS_MINIPORT_INTERRUPT Interrupt);
BOOLEAN NdisMSynchronizeWithInterrupt(PNDIS_MINIPORT_INTERRUPT Interrupt, PVOID SynchronizeFunction, PVOID SynchronizeContext);
void NdisMInitializeTimer(PNDIS_MINIPORT_TIMER Timer, NDIS_HANDLE MiniportAdapterHandle, PNDIS_TIMER_FUNCTION TimerFunction, PVOID FunctionContext);
void NdisMSetTimer(PNDIS_MINIPORT_TIMER Timer, UINT MillisecondsToDelay);
void NdisMSetPeriodicTimer(PNDIS_MINIPORT_TIMER Timer, UINT MillisecondPeriod);
void NdisMCancelTimer(PNDIS_MINIPORT_TIMER Timer, PBOOLEAN TimerCancelled);
void NdisInitializeTimer(PNDIS_TIMER Timer, PNDIS_TIMER_FUNCTION TimerFunction, PVOID FunctionContext);
void NdisSetTimer(PNDIS_TIMER Timer, UINT MillisecondsToDelay);
void NdisCancelTimer(PNDIS_TIMER Timer, PBOOLEAN TimerCancelled);

/* Requests and status. */
void NdisMQueryInformationComplete(NDIS_HANDLE MiniportAdapterHandle, NDIS_STATUS Status);
void NdisMSetInformationComplete(NDIS_HANDLE MiniportAdapterHandle, NDIS_STATUS Status);
void NdisMIndicateStatus(NDIS_HANDLE MiniportAdapterHandle, NDIS_STATUS GeneralStatus, PVOID StatusBuffer, UINT StatusBufferSize);
void NdisMIndicateStatusComplete(NDIS_HANDLE MiniportAdapterHandle);
void NdisMResetComplete(NDIS_HANDLE MiniportAdapterHandle, NDIS_STATUS Status, BOOLEAN AddressingReset);

#ifdef __cplusplus
}
#endif

#endif /* DMALAB_NDIS51_H */
