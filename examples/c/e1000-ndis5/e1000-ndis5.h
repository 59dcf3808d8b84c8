/*
 * e1000-ndis5 in C: an NDIS 5.1 miniport for dmalab's emulated Intel 82540EM, the team's own,
 * with the design of the TypeScript examples/e1000-ndis5 (not a translation of any other
 * driver). It follows seed document 000's NDIS 5 driver to the letter:
 *
 *   - its adapter context comes from NdisAllocateMemory and is handed to NdisMSetAttributesEx
 *     (deserialized bus master);
 *   - contiguous noncached memory, NdisAllocateMemory(NDIS_MEMORY_CONTIGUOUS |
 *     NDIS_MEMORY_NONCACHED) below the NIC's 4 GiB reach, is allocated only inside
 *     MiniportInitialize, with a smaller-blocks fallback: the transmit staging area;
 *   - every send is mapped through map registers (NdisMStartBufferPhysicalMapping), which bounce
 *     data above 4 GiB for the 32-bit NIC;
 *   - the descriptor rings and receive buffers, which the NIC and the driver use at the same
 *     time, are shared memory (NdisMAllocateSharedMemory), rings falling back to smaller sizes.
 *
 *   driver.c     DriverEntry: NdisMInitializeWrapper, the characteristics, NdisMRegisterMiniport
 *   init.c       MiniportInitialize
 *   memory.c     where the adapter's memory comes from, and the map-register helpers
 *   send.c       MiniportSendPackets, the transmit ring, MiniportCancelSendPackets
 *   receive.c    NdisMIndicateReceivePacket and MiniportReturnPacket
 *   interrupt.c  MiniportISR, MiniportHandleInterrupt, the watchdog, MiniportCheckForHang, MiniportReset
 *   halt.c       MiniportHalt, MiniportShutdown, MiniportPnPEventNotify, and the unwind
 *   oid.c        MiniportQueryInformation, MiniportSetInformation
 *
 * Hardware facts: Intel 8254x Family of Gigabit Ethernet Controllers Software Developer's
 * Manual, chapter 13 (registers), 3.2/3.3 (legacy descriptors), 13.2.2 (the I/O window).
 */
#ifndef E1000_NDIS5_H
#define E1000_NDIS5_H

#include <ndis.h>

/* ---- The 82540EM (manual chapter 13); this driver's own copy, as each driver project keeps one ---- */
#define E1000_CTRL 0x0000
#define E1000_STATUS 0x0008
#define E1000_EERD 0x0014
#define E1000_ICR 0x00C0
#define E1000_ITR 0x00C4
#define E1000_IMS 0x00D0
#define E1000_IMC 0x00D8
#define E1000_RCTL 0x0100
#define E1000_TCTL 0x0400
#define E1000_RDBAL 0x2800
#define E1000_RDBAH 0x2804
#define E1000_RDLEN 0x2808
#define E1000_RDH 0x2810
#define E1000_RDT 0x2818
#define E1000_TDBAL 0x3800
#define E1000_TDBAH 0x3804
#define E1000_TDLEN 0x3808
#define E1000_TDH 0x3810
#define E1000_TDT 0x3818
#define E1000_MTA 0x5200
#define E1000_RAL0 0x5400
#define E1000_RAH0 0x5404
/* The I/O window (13.2.2): IOADDR selects a register, IODATA reads or writes it. */
#define E1000_IOADDR 0
#define E1000_IODATA 4

#define CTRL_SLU 0x00000040
#define CTRL_RST 0x04000000
#define STATUS_LU 0x00000002
#define EERD_START 0x00000001
#define EERD_DONE 0x00000010
#define ICR_TXDW 0x00000001
#define ICR_LSC 0x00000004
#define ICR_RXDMT0 0x00000010
#define ICR_RXO 0x00000040
#define ICR_RXT0 0x00000080
#define IMS_ENABLE (ICR_TXDW | ICR_LSC | ICR_RXDMT0 | ICR_RXO | ICR_RXT0)
#define RCTL_EN 0x00000002
#define RCTL_UPE 0x00000008
#define RCTL_MPE 0x00000010
#define RCTL_BAM 0x00008000
#define RCTL_BSIZE_2048 0x00000000
#define RCTL_SECRC 0x04000000
#define TCTL_EN 0x00000002
#define TCTL_PSP 0x00000008
#define TCTL_CT_COLD ((0x0F << 4) | (0x40 << 12))
/* The multicast table: 128 registers, a 4096-bit vector (13.4.62). */
#define MTA_REGISTERS 128
/* How many multicast addresses the driver keeps (OID_802_3_MAXIMUM_LIST_SIZE). */
#define MULTICAST_LIST_SIZE 32
#define RAH_AV 0x80000000
#define ITR_COALESCE 488

/* Legacy descriptors, 16 bytes (3.2.3 receive, 3.3.3 transmit). */
typedef struct _E1000_RX_DESC {
    PHYSICAL_ADDRESS BufferAddress;
    USHORT Length;
    USHORT Checksum;
    UCHAR Status;
    UCHAR Errors;
    USHORT Special;
} E1000_RX_DESC, *PE1000_RX_DESC;

typedef struct _E1000_TX_DESC {
    PHYSICAL_ADDRESS BufferAddress;
    USHORT Length;
    UCHAR Cso;
    UCHAR Command;
    UCHAR Status;
    UCHAR Css;
    USHORT Special;
} E1000_TX_DESC, *PE1000_TX_DESC;

C_ASSERT(sizeof(E1000_RX_DESC) == 16);
C_ASSERT(sizeof(E1000_TX_DESC) == 16);

#define TXD_CMD_EOP 0x01
#define TXD_CMD_IFCS 0x02
#define TXD_CMD_RS 0x08
#define TXD_STA_DD 0x01
#define RXD_STA_DD 0x01
#define RXD_STA_EOP 0x02

#define RX_BUFFER_SIZE 2048
#define MAX_FRAME_SIZE 1514
#define ETHERNET_HEADER 14

/* PCI identity of the 82540EM (manual table 5-1). */
#define VENDOR_INTEL 0x8086
#define DEVICE_82540EM 0x100E

/* ---- The driver ------------------------------------------------------------------------------ */

/* Ring sizes, largest first (S07: fall back to smaller rings). */
#define RING_SIZE_LARGEST 256
#define RING_SIZE_SMALLEST 64
#define MAX_RX_BLOCKS (RING_SIZE_LARGEST * RX_BUFFER_SIZE / PAGE_SIZE)
/* Map registers for transmit, one per buffer in flight, each mapping a whole frame. */
#define MAP_REGISTERS 64
#define MAXIMUM_PHYSICAL_MAPPING 2048
/* Packets with more buffers than this, or shorter than COPY_BELOW, are copied into a staging slot. */
#define MAX_DIRECT_BUFFERS 4
#define COPY_BELOW 128
/* Staging slots, one frame each, in contiguous noncached memory below 4 GiB. */
#define STAGING_SLOTS 32
#define STAGING_SLOT_BYTES 2048
#define MAX_STAGING_BLOCKS (STAGING_SLOTS * STAGING_SLOT_BYTES / PAGE_SIZE)
/* Receive descriptors still with the NIC below which frames are indicated with NDIS_STATUS_RESOURCES. */
#define RX_LOW_WATER 8
/* The watchdog's period (NdisMSetPeriodicTimer), in milliseconds. */
#define WATCHDOG_MS 500
/* The units one map register gives one buffer: a frame spans at most two pages. */
#define MAX_UNITS 4

/* One mapping of a buffer for the NIC: the register it holds and the buffer it maps. */
typedef struct _TX_MAPPING {
    PNDIS_BUFFER Buffer;
    ULONG Register;
} TX_MAPPING;

/* A packet on the transmit ring, filed under its last descriptor. */
typedef struct _TX_PACKET {
    PNDIS_PACKET Packet;
    TX_MAPPING Mappings[MAX_DIRECT_BUFFERS];
    ULONG MappingCount;
    LONG Slot; /* its staging slot, or -1 */
    ULONG Descriptors;
} TX_PACKET, *PTX_PACKET;

typedef struct _RX_BLOCK {
    PUCHAR Va;
    PHYSICAL_ADDRESS Logical;
    ULONG Length;
} RX_BLOCK;

typedef struct _STAGING_BLOCK {
    PUCHAR Va;
    ULONG Length;
} STAGING_BLOCK;

typedef struct _STAGING_SLOT {
    PUCHAR Va;
    PNDIS_BUFFER Buffer;
} STAGING_SLOT;

/*
 * The context area (seed 000: NdisAllocateMemory, handed to NdisMSetAttributesEx): everything the
 * driver keeps about the adapter, in one block NDIS passes every MiniportXxx function.
 */
typedef struct _ADAPTER {
    NDIS_HANDLE Handle;
    PUCHAR Registers;
    ULONG RegistersLength;
    PVOID IoPort;
    ULONG IoPortFirst;
    ULONG IoPorts;
    UCHAR Mac[6];
    NDIS_SPIN_LOCK Lock;
    BOOLEAN LockAllocated;
    BOOLEAN InterruptRegistered;
    BOOLEAN TimerInitialized;
    BOOLEAN MapRegisters;
    NDIS_MINIPORT_INTERRUPT Interrupt;
    NDIS_MINIPORT_TIMER Watchdog;
    NDIS_HANDLE PacketPool;
    NDIS_HANDLE BufferPool;

    ULONG FreeRegisters[MAP_REGISTERS];
    ULONG FreeRegisterCount;

    /* Transmit ring (shared memory), and the packets on it by last descriptor. */
    PE1000_TX_DESC TxRing;
    PHYSICAL_ADDRESS TxRingLogical;
    ULONG RingCount;
    TX_PACKET TxPackets[RING_SIZE_LARGEST];
    BOOLEAN TxUsed[RING_SIZE_LARGEST];
    ULONG TxNext;
    ULONG TxClean;
    ULONG TxFree;
    /* Packets waiting for descriptors or map registers, linked through MiniportReservedEx. */
    PNDIS_PACKET TxQueueHead;
    PNDIS_PACKET TxQueueTail;
    /* Packets that can never be sent, completed with NDIS_STATUS_RESOURCES once the lock is dropped. */
    PNDIS_PACKET TxFailed;
    PNDIS_PACKET TxFailedTail;

    /* Receive ring, buffers, and the packet and buffer descriptor of each. */
    PE1000_RX_DESC RxRing;
    PHYSICAL_ADDRESS RxRingLogical;
    RX_BLOCK RxBlocks[MAX_RX_BLOCKS];
    ULONG RxBlockCount;
    PNDIS_PACKET RxPackets[RING_SIZE_LARGEST];
    PNDIS_BUFFER RxBuffers[RING_SIZE_LARGEST];
    BOOLEAN RxReady[RING_SIZE_LARGEST];
    PNDIS_PACKET RxBatch[RING_SIZE_LARGEST];
    ULONG RxNext;
    ULONG RxTail;
    ULONG RxHeld;

    /* The transmit staging area: contiguous noncached blocks and the slots carved from them. */
    STAGING_BLOCK StagingBlocks[MAX_STAGING_BLOCKS];
    ULONG StagingBlockCount;
    STAGING_SLOT Staging[STAGING_SLOTS];
    ULONG StagingCount;
    ULONG FreeSlots[STAGING_SLOTS];
    ULONG FreeSlotCount;

    ULONG PendingIcr; /* causes MiniportISR read (ICR is read-to-clear), for the DPC */
    ULONG TakenIcr;   /* what the DPC took of them, through NdisMSynchronizeWithInterrupt */
    BOOLEAN LinkUp;
    BOOLEAN Halting;
    BOOLEAN Removed;
    ULONG PacketFilter;
    ULONG Lookahead;
    UCHAR Multicast[MULTICAST_LIST_SIZE][6]; /* OID_802_3_MULTICAST_LIST: the groups joined */
    ULONG MulticastCount;
    ULONG LastTxClean;
    ULONG StalledChecks;

    ULONG64 TxOk;
    ULONG64 RxOk;
    ULONG64 TxErrors;
    ULONG64 RxErrors;
    ULONG64 RxNoBuffer;
    ULONG64 TxDropped;
} ADAPTER, *PADAPTER;

/* A queued send's link, and a receive packet's descriptor index, in MiniportReservedEx
   ("NDIS_PACKET structure": deserialized miniports may use it while they own the packet). */
#define PACKET_NEXT(P) (*(PNDIS_PACKET *)&(P)->MiniportReservedEx[0])
#define RX_INDEX(P) (*(ULONG *)&(P)->MiniportReservedEx[4])

/* NDIS_PHYSICAL_ADDRESS_CONST(-1, 0) and (-1, -1). */
extern const NDIS_PHYSICAL_ADDRESS HighestDeviceAddress;
extern const NDIS_PHYSICAL_ADDRESS AnyAddress;
#define CONTEXT_FLAGS 0
#define STAGING_FLAGS (NDIS_MEMORY_CONTIGUOUS | NDIS_MEMORY_NONCACHED)

static inline ULONG E1000Read(PADAPTER Adapter, ULONG Offset)
{
    ULONG value;
    NdisReadRegisterUlong(Adapter->Registers + Offset, &value);
    return value;
}

static inline void E1000Write(PADAPTER Adapter, ULONG Offset, ULONG Value)
{
    NdisWriteRegisterUlong(Adapter->Registers + Offset, Value);
}

/* init.c */
NDIS_STATUS E1000Initialize(PNDIS_STATUS OpenErrorStatus, PUINT SelectedMediumIndex, PNDIS_MEDIUM MediumArray, UINT MediumArraySize,
                            NDIS_HANDLE MiniportAdapterHandle, NDIS_HANDLE WrapperConfigurationContext);
/* memory.c */
PADAPTER E1000AllocateContext(void);
BOOLEAN E1000AllocateStaging(PADAPTER Adapter);
void E1000FreeStaging(PADAPTER Adapter);
PVOID E1000AllocateShared(PADAPTER Adapter, ULONG Length, BOOLEAN Cached, PNDIS_PHYSICAL_ADDRESS Logical);
BOOLEAN E1000MapBuffer(PADAPTER Adapter, PNDIS_BUFFER Buffer, TX_MAPPING *Mapping, NDIS_PHYSICAL_ADDRESS_UNIT *Units, PUINT Count);
void E1000CompleteMapping(PADAPTER Adapter, const TX_MAPPING *Mapping);
/* send.c */
void E1000SendPackets(NDIS_HANDLE MiniportAdapterContext, PPNDIS_PACKET PacketArray, UINT NumberOfPackets);
void E1000CancelSendPackets(NDIS_HANDLE MiniportAdapterContext, PVOID CancelId);
void E1000DrainQueue(PADAPTER Adapter);
PNDIS_PACKET E1000ReapTransmits(PADAPTER Adapter);
PNDIS_PACKET E1000AbortTransmits(PADAPTER Adapter);
void E1000CompleteSends(PADAPTER Adapter, PNDIS_PACKET Chain, NDIS_STATUS Status);
/* receive.c */
void E1000ReceiveFrames(PADAPTER Adapter);
void E1000ReturnPacket(NDIS_HANDLE MiniportAdapterContext, PNDIS_PACKET Packet);
void E1000PostReady(PADAPTER Adapter);
/* interrupt.c */
void E1000Isr(PBOOLEAN InterruptRecognized, PBOOLEAN QueueMiniportHandleInterrupt, NDIS_HANDLE MiniportAdapterContext);
void E1000HandleInterrupt(NDIS_HANDLE MiniportAdapterContext);
void E1000EnableInterrupt(NDIS_HANDLE MiniportAdapterContext);
void E1000DisableInterrupt(NDIS_HANDLE MiniportAdapterContext);
void E1000Watchdog(PVOID SystemSpecific1, PVOID FunctionContext, PVOID SystemSpecific2, PVOID SystemSpecific3);
BOOLEAN E1000CheckForHang(NDIS_HANDLE MiniportAdapterContext);
NDIS_STATUS E1000Reset(PBOOLEAN AddressingReset, NDIS_HANDLE MiniportAdapterContext);
/* halt.c */
void E1000Halt(NDIS_HANDLE MiniportAdapterContext);
void E1000Shutdown(PVOID ShutdownContext);
void E1000PnPEventNotify(NDIS_HANDLE MiniportAdapterContext, NDIS_DEVICE_PNP_EVENT DevicePnPEvent, PVOID InformationBuffer, ULONG InformationBufferLength);
void E1000StopDevice(PADAPTER Adapter);
void E1000Release(PADAPTER Adapter);
/* oid.c */
NDIS_STATUS E1000QueryInformation(NDIS_HANDLE MiniportAdapterContext, NDIS_OID Oid, PVOID InformationBuffer, ULONG InformationBufferLength,
                                  PULONG BytesWritten, PULONG BytesNeeded);
NDIS_STATUS E1000SetInformation(NDIS_HANDLE MiniportAdapterContext, NDIS_OID Oid, PVOID InformationBuffer, ULONG InformationBufferLength,
                                PULONG BytesRead, PULONG BytesNeeded);
void E1000ProgramFilter(PADAPTER Adapter);

#endif /* E1000_NDIS5_H */
