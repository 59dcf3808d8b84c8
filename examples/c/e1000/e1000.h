/*
 * The e1000 miniport in C: an NDIS 6 driver for dmalab's emulated Intel 82540EM, the team's
 * own, with the design of the TypeScript examples/e1000 (not a translation of any other
 * driver). One header for the driver's files:
 *
 *   driver.c     DriverEntry: registers the miniport with the NDIS memory table below
 *   miniport.c   the NDIS_MINIPORT_DRIVER_CHARACTERISTICS, MiniportPause/Restart
 *   init.c       MiniportInitializeEx: context, NBL pool, registers, DMA, rings, interrupt
 *   send.c       MiniportSendNetBufferLists, MiniportProcessSGList, transmit completion
 *   receive.c    receive indications and MiniportReturnNetBufferLists
 *   interrupt.c  MiniportInterrupt (ISR) and MiniportInterruptDPC
 *   halt.c       MiniportHaltEx and the unwind of a failed initialization
 *   oid.c        MiniportOidRequest
 *   filter.c     the receive filters (station address, multicast table, RCTL) from the OIDs
 *   memory.c     where the adapter's memory comes from: one table (E1000_MEMORY)
 *
 * The rest of the driver reaches memory only through Adapter->Memory, so a driver built on this
 * one swaps the table, or one entry of it, and nothing else (examples/c/buggy does).
 *
 * Hardware facts: Intel 8254x Family of Gigabit Ethernet Controllers Software Developer's
 * Manual, chapter 13 (register descriptions) and 3.2/3.3 (legacy descriptors).
 */
#ifndef E1000_H
#define E1000_H

#include <ndis.h>

/* ---- The 82540EM (manual chapter 13) -------------------------------------------------------- */
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
#define RCTL_UPE 0x00000008 /* unicast promiscuous (13.4.22) */
#define RCTL_MPE 0x00000010 /* multicast promiscuous */
#define RCTL_BAM 0x00008000
#define RCTL_BSIZE_2048 0x00000000
#define RCTL_SECRC 0x04000000
#define TCTL_EN 0x00000002
#define TCTL_PSP 0x00000008
#define TCTL_CT_COLD ((0x0F << 4) | (0x40 << 12)) /* collision threshold and full-duplex distance (14.5) */
#define RAH_AV 0x80000000
/* The multicast table: 128 registers, a 4096-bit vector (13.4.62). */
#define MTA_REGISTERS 128
/* ITR in 256 ns units: about 8,000 interrupts a second, so a busy link takes one per batch. */
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

/* The packet filter types this driver applies, and how many multicast addresses it keeps
   (OID_802_3_MAXIMUM_LIST_SIZE). */
#define SUPPORTED_PACKET_FILTERS (NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_MULTICAST | NDIS_PACKET_TYPE_ALL_MULTICAST | \
                                  NDIS_PACKET_TYPE_BROADCAST | NDIS_PACKET_TYPE_PROMISCUOUS)
#define MAX_MULTICAST 32

/* Receive buffers are 2 KiB (RCTL.BSIZE = 00): one whole frame each. */
#define RX_BUFFER_SIZE 2048
#define MAX_FRAME_SIZE 1514

/* ---- The driver ----------------------------------------------------------------------------------- */

/* Pool tags, reversed as C multi-character literals so a pool dump reads them forwards. */
#define TAG_ADAPTER 'Ak1E' /* E1kA: the adapter context */
#define TAG_TABLES 'Tk1E'  /* E1kT: descriptor-tracking tables */
#define TAG_STATS 'Sk1E'   /* E1kS: statistics */
#define TAG_NBL 'Nk1E'     /* E1kN: the receive NBL pool */

/* Ring sizes to try, largest first: smaller rings when a large allocation fails (S07). */
#define RING_SIZE_LARGEST 256
#define RING_SIZE_SMALLEST 64
#define MAX_RX_BLOCKS (RING_SIZE_LARGEST * RX_BUFFER_SIZE / PAGE_SIZE)

/* NDIS_SG_DMA_DESCRIPTION.MaximumPhysicalMapping: the most one packet may need mapped at once. */
#define MAXIMUM_PHYSICAL_MAPPING (16 * 1024)

typedef struct _ADAPTER ADAPTER, *PADAPTER;

/* Statistics (ULONG64 counters) in their own block. */
typedef struct _E1000_STATS {
    ULONG64 TxOk;
    ULONG64 RxOk;
    ULONG64 TxErrors;
    ULONG64 RxErrors;
    ULONG64 RxNoBuffer;
    ULONG64 TxDropped;
} E1000_STATS, *PE1000_STATS;

/* One entry per transmit descriptor: the packet whose last descriptor it is. */
typedef struct _TX_ENTRY {
    PNET_BUFFER_LIST Nbl;
    PNET_BUFFER Nb;
    PSCATTER_GATHER_LIST Sgl;
    ULONG Last;
    ULONG Length;
} TX_ENTRY, *PTX_ENTRY;

/* One entry per receive descriptor: its buffer and the NBL pre-built for it. */
typedef struct _RX_ENTRY {
    PNET_BUFFER_LIST Nbl;
    PMDL Mdl;
    PUCHAR Buffer;
    PHYSICAL_ADDRESS Logical;
} RX_ENTRY, *PRX_ENTRY;

/* A block of shared memory holding receive buffers. */
typedef struct _RX_BLOCK {
    PUCHAR Va;
    PHYSICAL_ADDRESS Logical;
    ULONG Length;
} RX_BLOCK;

/*
 * Where the adapter's memory comes from and how it goes back (memory.c): the driver's own
 * blocks from NDIS's memory routines, everything the device touches from NDIS's scatter/gather
 * DMA. MapTransmit maps one NET_BUFFER for the device; E1000ProcessSGList receives the list,
 * before or after it returns. It returns an NDIS_STATUS; on failure the list never comes.
 */
typedef struct _E1000_MEMORY {
    PVOID (*AllocateStatistics)(PADAPTER Adapter, ULONG Length);
    void (*FreeStatistics)(PADAPTER Adapter, PVOID Block, ULONG Length);
    PVOID (*AllocateTable)(PADAPTER Adapter, ULONG Length);
    void (*FreeTable)(PADAPTER Adapter, PVOID Table, ULONG Length);
    NDIS_STATUS (*EnableDma)(PADAPTER Adapter);
    void (*DisableDma)(PADAPTER Adapter);
    PVOID (*AllocateShared)(PADAPTER Adapter, ULONG Length, BOOLEAN Cached, PPHYSICAL_ADDRESS Logical);
    void (*FreeShared)(PADAPTER Adapter, ULONG Length, BOOLEAN Cached, PVOID Va, PHYSICAL_ADDRESS Logical);
    NDIS_STATUS (*MapTransmit)(PADAPTER Adapter, PNET_BUFFER Nb);
    void (*UnmapTransmit)(PADAPTER Adapter, PSCATTER_GATHER_LIST Sgl, PNET_BUFFER Nb);
} E1000_MEMORY, *PE1000_MEMORY;

struct _ADAPTER {
    NDIS_HANDLE Handle;
    const E1000_MEMORY *Memory;
    PUCHAR Registers;
    ULONG RegistersLength;
    UCHAR Mac[6];
    NDIS_HANDLE DmaHandle;
    NDIS_HANDLE InterruptHandle;
    NDIS_HANDLE NblPool;
    NDIS_SPIN_LOCK Lock;
    BOOLEAN LockAllocated;
    PE1000_STATS Stats;

    /* Transmit ring (shared memory) and its tracking table. */
    PE1000_TX_DESC TxRing;
    PHYSICAL_ADDRESS TxRingLogical;
    ULONG TxCount;
    PTX_ENTRY TxTable;
    ULONG TxNext;
    ULONG TxClean;
    ULONG TxFree;
    /* The NET_BUFFER whose mapping call is on the stack (its caller rings the doorbell), or NULL. */
    PNET_BUFFER MappingInline;
    /* NBLs waiting for descriptors, in order, linked through NBL->Next. */
    PNET_BUFFER_LIST TxQueueHead;
    PNET_BUFFER_LIST TxQueueTail;

    /* Receive ring, its buffers and the NBL pre-built for each descriptor. */
    PE1000_RX_DESC RxRing;
    PHYSICAL_ADDRESS RxRingLogical;
    ULONG RxCount;
    PRX_ENTRY RxTable;
    RX_BLOCK RxBlocks[MAX_RX_BLOCKS];
    ULONG RxBlockCount;
    ULONG RxNext;
    ULONG RxIndicated; /* buffers the protocol still holds */
    ULONG RxTail;

    ULONG PendingIcr; /* causes the ISR read (ICR is read-to-clear), for the DPC */
    BOOLEAN Paused;
    BOOLEAN Pausing;
    BOOLEAN Halting;
    BOOLEAN LinkUp;
    /* OID_GEN_CURRENT_PACKET_FILTER: 0 from initialization until the protocol sets it (no indications). */
    ULONG PacketFilter;
    ULONG Lookahead;
    /* OID_802_3_MULTICAST_LIST: the groups joined. */
    UCHAR Multicast[MAX_MULTICAST][6];
    ULONG MulticastCount;
};

/*
 * While the miniport owns a send, the NBL's MiniportReserved slots hold the next NET_BUFFER
 * still to be mapped and how many are not yet complete; each NET_BUFFER's hold what
 * E1000ProcessSGList needs: the adapter, its NBL and the descriptors set aside for it.
 */
#define NBL_NEXT_NB(Nbl) (*(PNET_BUFFER *)&NET_BUFFER_LIST_MINIPORT_RESERVED(Nbl)[0])
#define NBL_NBS_LEFT(Nbl) (*(ULONG_PTR *)&NET_BUFFER_LIST_MINIPORT_RESERVED(Nbl)[1])
#define NB_ADAPTER(Nb) (*(PADAPTER *)&NET_BUFFER_MINIPORT_RESERVED(Nb)[0])
#define NB_NBL(Nb) (*(PNET_BUFFER_LIST *)&NET_BUFFER_MINIPORT_RESERVED(Nb)[1])
#define NB_RESERVED(Nb) (*(ULONG_PTR *)&NET_BUFFER_MINIPORT_RESERVED(Nb)[2])
/* Bytes at the start of the list before the packet's data: NdisMAllocateNetBufferSGList builds
   the list "from the network data starting at the beginning of the MDL that is specified at the
   CurrentMdl member", the data starting CurrentMdlOffset bytes into it (MapTransmit sets it). */
#define NB_SKIP(Nb) (*(ULONG_PTR *)&NET_BUFFER_MINIPORT_RESERVED(Nb)[3])
/* A receive NBL's descriptor index. */
#define RX_INDEX(Nbl) (*(ULONG_PTR *)&NET_BUFFER_LIST_MINIPORT_RESERVED(Nbl)[0])

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

extern const E1000_MEMORY E1000NdisMemory;
/* The table the adapters of this driver take (set at registration). */
extern const E1000_MEMORY *E1000AdapterMemory;

/* miniport.c */
NDIS_STATUS E1000RegisterMiniport(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath, const E1000_MEMORY *Memory);
/* init.c */
MINIPORT_INITIALIZE E1000InitializeEx;
/* halt.c */
MINIPORT_HALT E1000HaltEx;
void E1000Release(PADAPTER Adapter);
void E1000StopDevice(PADAPTER Adapter);
/* send.c */
MINIPORT_SEND_NET_BUFFER_LISTS E1000SendNetBufferLists;
MINIPORT_PROCESS_SG_LIST E1000ProcessSGList;
PNET_BUFFER_LIST E1000DrainQueue(PADAPTER Adapter);
PNET_BUFFER_LIST E1000ReapTransmits(PADAPTER Adapter);
PNET_BUFFER_LIST E1000FlushQueue(PADAPTER Adapter, NDIS_STATUS Status);
void E1000CompleteChain(PADAPTER Adapter, PNET_BUFFER_LIST Chain, BOOLEAN AtDispatch);
/* receive.c */
MINIPORT_RETURN_NET_BUFFER_LISTS E1000ReturnNetBufferLists;
ULONG E1000ReceiveFrames(PADAPTER Adapter, ULONG Budget);
void E1000CompletePause(PADAPTER Adapter);
MINIPORT_ALLOCATE_SHARED_MEM_COMPLETE E1000SharedMemoryAllocated;
/* interrupt.c */
MINIPORT_ISR E1000Isr;
MINIPORT_INTERRUPT_DPC E1000InterruptDpc;
/* oid.c */
MINIPORT_OID_REQUEST E1000OidRequest;
/* filter.c */
void E1000ApplyReceiveFilter(PADAPTER Adapter);
BOOLEAN E1000FilterExcludes(PADAPTER Adapter, const UCHAR *Frame, ULONG Length);

#endif /* E1000_H */
